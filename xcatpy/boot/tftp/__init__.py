"""TFTP server (read-only): RFC 1350 with options (RFC 2347/2348/2349) and windowsize (7440).

packets   the wire format (codec only)
files     TftpRoot: what a path means: generators, confined static files, the cache
protocol  listeners, option negotiation and one session per transfer
service   TftpService, the IService xcatd runs
"""
