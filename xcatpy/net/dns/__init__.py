"""DNS: the records makedns publishes, the zones xcatd answers, updates to external servers.

records.py decides what a node gets; zones.py what we are authoritative for and the
answer to a question (no I/O); serial.py the SOA serial; server.py the embedded server on
Twisted Names; ddns.py RFC 2136 updates with TSIG for an external BIND. See
share/doc/dns.md.
"""
