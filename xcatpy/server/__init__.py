"""The daemon side: xcatd services, the API, auth, and the engines command handlers run on."""
