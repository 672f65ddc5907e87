"""Network boot: everything a node fetches between DHCP and its first local boot.

tftp/        the TFTP server (our own DatagramProtocol; tftpy only as a test client)
osimage      which OS image a node boots and where its kernel and initrd live
urls         the URLs nodes are given, in one place so configs and templates agree
templates    Jinja2 answer files (kickstart, XenServer answerfile.xml) with xCAT directives
bootconfig   pxelinux / grub2 / iPXE text for one node's current state
chainstate   nodeset states kept in the chain table, and how a finished install advances
resolver     TFTP names and HTTP requests -> node -> rendered config, off the reactor
http         the HTTP service: install tree, answer files, iPXE scripts, callback
monitor      xCAT's plain-TCP install monitor (port 3002)
"""
