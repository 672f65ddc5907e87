"""Certificates for xcatd's mutually authenticated API.

- ``paths``: where the CA, the server's and each user's credentials live, and how a CLI
  finds its own. Imported on every CLI command, so it never imports ``cryptography``.
- ``ca``: create the CA, the server certificate and root's credentials; issue a user's.
- ``revocation``: the record of issued certificates, revoking, and the CRL xcatd reads.
- ``setup_cli``: the ``xcatpy-setup`` command.
- ``testing``: certificates only tests need (another CA's, an expired one).

Nothing here is imported by this package's ``__init__``: a CLI importing
``xcatpy.pki.paths`` pays for that module alone.
"""
