"""Tables keyed by node (or group) name that describe a node's identity and management.

Keys, column order and descriptions follow xCAT's Schema.pm (as published in its
man5 pages); the longest descriptions are shortened, never reworded.
"""

from xcatpy.db.schema import define

_NODE = ("node", "The node name or group name.")

TABLES = [
    define("nodelist", "The list of all the nodes in the cluster, including each node's current "
           "status and what groups it is in.", "node", [
               ("node", "The hostname of a node in the cluster."),
               ("groups", "A comma-delimited list of groups this node is a member of.  Group "
                "names are arbitrary, except all nodes should be part of the 'all' group. "
                "Internal group names are designated by using __<groupname>.  For example, "
                "__Unmanaged, could be the internal name for a group of nodes that is not "
                "managed by xCAT. Admins should avoid using the __ characters when defining "
                "their groups."),
               ("status", "The current status of this node.  This attribute will be set by "
                "xCAT software.  Valid values: defined, booting, netbooting, booted, "
                "discovering, configuring, installing, alive, standingby, powering-off, "
                "unreachable. If blank, defined is assumed."),
               ("statustime", "The data and time when the status was updated."),
               ("appstatus", "A comma-delimited list of application status. For example: "
                "'sshd=up,ftp=down,ll=down'"),
               ("appstatustime", "The date and time when appstatus was updated."),
               ("primarysn", "Not used currently. The primary servicenode, used by this node."),
               ("hidden", "Used to hide fsp and bpa definitions, 1 means not show them when "
                "running lsdef and nodels"),
               ("updatestatus", "The current node update status. Valid states are synced, "
                "out-of-sync,syncing,failed."),
               ("updatestatustime", "The date and time when the updatestatus was updated."),
               ("zonename", "The name of the zone to which the node is currently assigned. If "
                "undefined, then it is not assigned to any zone."),
           ]),
    define("nodehm", "Settings that control how each node's hardware is managed.  Typically, an "
           "additional table that is specific to the hardware type of the node contains "
           "additional info.  E.g. the ipmi, mp, and ppc tables.", "node", [
               _NODE,
               ("power", "The method to use to control the power of the node. If not set, the "
                "mgt attribute will be used.  Valid values: ipmi, blade, hmc, ivm, fsp, kvm, "
                "esx, rhevm.  If \"ipmi\", xCAT will search for this node in the ipmi table "
                "for more info.  If \"blade\", xCAT will search for this node in the mp table. "
                " If \"hmc\", \"ivm\", or \"fsp\", xCAT will search for this node in the ppc "
                "table."),
               ("mgt", "The method to use to do general hardware management of the node.  This "
                "attribute is used as the default if power or getmac is not set.  Valid "
                "values: openbmc, redfish, ipmi, blade, hmc, ivm, fsp, bpa, kvm, esx, rhevm.  "
                "See the power attribute for more details."),
               ("cons", "The console method. If nodehm.serialport is set, this will default to "
                "the nodehm.mgt setting, otherwise it defaults to unused.  Valid values: "
                "cyclades, mrv, or the values valid for the mgt attribute."),
               ("termserver", "The hostname of the terminal server."),
               ("termport", "The port number on the terminal server that this node is "
                "connected to."),
               ("conserver", "The hostname of the machine where the conserver daemon is "
                "running.  If not set, the default is the xCAT management node."),
               ("serialport", "The serial port for this node, in the linux numbering style "
                "(0=COM1/ttyS0, 1=COM2/ttyS1).  For SOL on IBM blades, this is typically 1.  "
                "For rackmount IBM servers, this is typically 0."),
               ("serialspeed", "The speed of the serial port for this node.  For SOL this is "
                "typically 19200."),
               ("serialflow", "The flow control value of the serial port for this node.  For "
                "SOL this is typically 'hard'."),
               ("getmac", "The method to use to get MAC address of the node with the getmac "
                "command. If not set, the mgt attribute will be used.  Valid values: same as "
                "values for mgmt attribute."),
               ("cmdmapping", "The fully qualified name of the file that stores the mapping "
                "between PCM hardware management commands and xCAT/third-party hardware "
                "management commands for a particular type of hardware device.  Only used by "
                "PCM."),
               ("consoleondemand", "This overrides the value from site.consoleondemand. Set to "
                "'yes', 'no', '1' (equivalent to 'yes'), or '0' (equivalent to 'no'). If not "
                "set, the default is the value from site.consoleondemand."),
               ("consoleenabled", "A flag field to indicate whether the node is registered in "
                "the console server. If '1', console is enabled, if not set, console is not "
                "enabled."),
           ]),
    define("nodetype", "A few hardware and software characteristics of the nodes.", "node", [
        _NODE,
        ("os", "The operating system deployed on this node.  Valid values: AIX, rhels*,rhelc*, "
         "rhas*,centos*,SL*, fedora*, sles* (where * is the version #). As a special case, if "
         "this is set to \"boottarget\", then it will use the initrd/kernel/parameters "
         "specified in the row in the boottarget table in which boottarget.bprofile equals "
         "nodetype.profile."),
        ("arch", "The hardware architecture of this node.  Valid values: x86_64, ppc64, x86, "
         "ia64."),
        ("profile", "The string to use to locate a kickstart or autoyast template to use for OS "
         "deployment of this node.  If the provmethod attribute is set to an osimage name, "
         "that takes precedence, and profile need not be defined.  Otherwise, the os, profile, "
         "and arch are used to search for the files in /install/custom first, and then in "
         "/opt/xcat/share/xcat."),
        ("provmethod", "The provisioning method for node deployment. The valid values are "
         "install, netboot, statelite or an os image name from the osimage table. If an image "
         "name is specified, the osimage definition stored in the osimage table and the "
         "linuximage table (for Linux) or nimimage table (for AIX) are used to locate the files "
         "for templates, pkglists, syncfiles, etc."),
        ("supportedarchs", "Comma delimited list of architectures this node can execute."),
        ("nodetype", "A comma-delimited list of characteristics of this node.  Valid values: "
         "ppc, blade, vm (virtual machine), osi (OS image), mm, mn, rsa, switch."),
    ]),
    define("noderes", "Resources and settings to use when installing nodes.", "node", [
        _NODE,
        ("servicenode", "A comma separated list of node names (as known by the management "
         "node) that provides most services for this node. The first service node on the list "
         "that is accessible will be used.  The 2nd node on the list is generally considered "
         "to be the backup service node for this node when running commands like snmove."),
        ("netboot", "The type of network booting to use for this node.  Valid values: pxe, "
         "xnba or grub2 for x86 and x86_64; yaboot, grub2, grub2-http or grub2-tftp for "
         "ppc64; petitboot for ppc64le; grub2 for aarch64."),
        ("tftpserver", "The TFTP server for this node (as known by this node). If not set, it "
         "defaults to networks.tftpserver."),
        ("tftpdir", "The directory that roots this nodes contents from a tftp and related "
         "perspective.  Used for NAS offload by using different mountpoints."),
        ("nfsserver", "The NFS or HTTP server for this node (as known by this node)."),
        ("monserver", "The monitoring aggregation point for this node. The format is \"x,y\" "
         "where x is the ip address as known by the management node and y is the ip address "
         "as known by the node."),
        ("nfsdir", "The path that should be mounted from the NFS server."),
        ("installnic", "The network adapter on the node that will be used for OS deployment, "
         "the installnic can be set to the network adapter name or the mac address or the "
         "keyword \"mac\" which means that the network interface specified by the mac address "
         "in the mac table will be used.  If not set, primarynic will be used. If primarynic "
         "is not set too, the keyword \"mac\" will be used as default."),
        ("primarynic", "This attribute will be deprecated. All the used network interface "
         "will be determined by installnic. The network adapter on the node that will be used "
         "for xCAT management.  Default is eth0."),
        ("discoverynics", "If specified, force discovery to occur on specific network "
         "adapters only, regardless of detected connectivity.  Syntax can be simply "
         "\"eth2,eth3\" to restrict discovery to whatever happens to come up as eth2 and "
         "eth3, or by driver name such as \"bnx2:0,bnx2:1\" to specify the first two "
         "adapters managed by the bnx2 driver"),
        ("cmdinterface", "Not currently used."),
        ("xcatmaster", "The hostname of the xCAT service node (as known by this node).  This "
         "acts as the default value for nfsserver and tftpserver, if they are not set.  If "
         "xcatmaster is not set, the node will use whoever responds to its boot request as "
         "its master."),
        ("current_osimage", "Not currently used.  The name of the osimage data object that "
         "represents the OS image currently deployed on this node."),
        ("next_osimage", "Not currently used.  The name of the osimage data object that "
         "represents the OS image that will be installed on the node the next time it is "
         "deployed."),
        ("nimserver", "Not used for now. The NIM server for this node (as known by this "
         "node)."),
        ("routenames", "A comma separated list of route names that refer to rows in the "
         "routes table. These are the routes that should be defined on this node when it is "
         "deployed."),
        ("nameservers", "An optional node/group specific override for name server list.  Most "
         "people want to stick to site or network defined nameserver configuration."),
        ("proxydhcp", "To specify whether the node supports proxydhcp protocol. Valid values: "
         "yes or 1, no or 0. Default value is yes."),
        ("syslog", "To configure how to configure syslog for compute node. Valid "
         "values:blank(not set), ignore. blank - run postscript syslog; ignore - do NOT run "
         "postscript syslog"),
    ]),
    define("mac", "The MAC address of the node's install adapter.  Normally this table is "
           "populated by getmacs or node discovery, but you can also add entries to it "
           "manually.", "node", [
               _NODE,
               ("interface", "The adapter interface name that will be used to install and "
                "manage the node. E.g. eth0 (for linux) or en0 (for AIX).)"),
               ("mac", "The mac address or addresses for which xCAT will manage static "
                "bindings for this node.  This may be simply a mac address, which would be "
                "bound to the node name (such as \"01:02:03:04:05:0E\").  This may also be a "
                "\"|\" delimited string of \"mac address!hostname\" format (such as "
                "\"01:02:03:04:05:0E!node5|01:02:03:04:05:0F!node6-eth1\")."),
           ]),
    define("hosts", "IP addresses and hostnames of nodes.  This info is optional and is only "
           "used to populate /etc/hosts and DNS via makehosts and makedns.  Using regular "
           "expressions in this table can be a quick way to populate /etc/hosts.", "node", [
               _NODE,
               ("ip", "The IP address of the node. This is only used in makehosts.  The rest "
                "of xCAT uses system name resolution to resolve node names to IP addresses."),
               ("hostnames", "Hostname aliases added to /etc/hosts for this node. Comma or "
                "blank separated list."),
               ("otherinterfaces", "Other IP addresses to add for this node.  Format: "
                "-<ext>:<ip>,<intfhostname>:<ip>,..."),
           ]),
    define("bootparams", "Current boot settings to be sent to systems attempting network boot "
           "for deployment, stateless, or other reasons.  Mostly automatically manipulated by "
           "xCAT.", "node", [
               ("node", "The node or group name"),
               ("kernel", "The kernel that network boot actions should currently acquire and "
                "use.  Note this could be a chained boot loader such as memdisk or a "
                "non-linux boot loader"),
               ("initrd", "The initial ramdisk image that network boot actions should use "
                "(could be a DOS floppy or hard drive image if using memdisk as kernel)"),
               ("kcmdline", "Arguments to be passed to the kernel"),
               ("addkcmdline", "User specified kernel options for os provision process(no "
                "prefix) or the provisioned os(with prefix \"R::\"). The options should be "
                "delimited with spaces(\" \")"),
               ("dhcpstatements", "xCAT manipulated custom dhcp statements (not intended for "
                "user manipulation)"),
               ("adddhcpstatements", "Custom dhcp statements for administrator use (not "
                "implemneted yet)"),
           ]),
    define("chain", "Controls what operations are done (and it what order) when a node is "
           "discovered and deployed.", "node", [
               _NODE,
               ("currstate", "The current or next chain step to be executed on this node by "
                "xCAT-genesis.  Set by xCAT during node discovery or as a result of nodeset."),
               ("currchain", "The chain steps still left to do for this node.  This attribute "
                "will be automatically adjusted by xCAT while xCAT-genesis is running on the "
                "node (either during node discovery or a special operation like firmware "
                "update).  During node discovery, this attribute is initialized from the "
                "chain attribute and updated as the chain steps are executed."),
               ("chain", "A comma-delimited chain of actions to be performed automatically "
                "when this node is discovered for the first time.  (xCAT and the DHCP server "
                "does not recognize the MAC address of the node and xCAT initializes the "
                "discovery process.  The last step in this process is to run the operations "
                "listed in the chain attribute, one by one.  Valid values:  boot, "
                "runcmd=<cmd>, runimage=<URL>, shell, standby. Example, to have the genesis "
                "kernel pause, chain=shell."),
               ("ondiscover", "This attribute is currently not used by xCAT.  The "
                "\"nodediscover\" operation is always done during node discovery."),
           ]),
    define("postscripts", "The scripts that should be run on each node after installation or "
           "diskless boot.", "node", [
               _NODE,
               ("postscripts", "Comma separated list of scripts that should be run on this "
                "node after diskful installation or diskless boot. Each script can take zero "
                "or more parameters. For example: \"script1 p1 p2,script2,...\". xCAT "
                "automatically adds the postscripts from  the xcatdefaults.postscripts "
                "attribute of the table to run first on the nodes after install or diskless "
                "boot."),
               ("postbootscripts", "Comma separated list of scripts that should be run on "
                "this node after diskful installation or diskless boot. Each script can take "
                "zero or more parameters. For example: \"script1 p1 p2,script2,...\". On Linux "
                "they are run at the init.d time. xCAT automatically adds the scripts in the "
                "xcatdefaults.postbootscripts attribute to run first in the list."),
           ]),
    define("ipmi", "Settings for nodes that are controlled by an on-board BMC via IPMI.",
           "node", [
               _NODE,
               ("bmc", "The hostname of the BMC adapter."),
               ("bmcport", "In systems with selectable shared/dedicated ethernet ports, this "
                "parameter can be used to specify the preferred port. 0 means use the shared "
                "port, 1 means dedicated, blank is to not assign. Some IBM System x and Dell "
                "systems take a second (and third) value selecting the LOM or adapter "
                "interface, e.g. '0 2' or '0 1 2'."),
               ("taggedvlan", "bmcsetup script will configure the network interface of the BMC "
                "to be tagged to the VLAN specified."),
               ("bmcid", "Unique identified data used by discovery processes to distinguish "
                "known BMCs from unrecognized BMCs"),
               ("username", "The BMC userid.  If not specified, the key=ipmi row in the passwd "
                "table is used as the default."),
               ("password", "The BMC password.  If not specified, the key=ipmi row in the "
                "passwd table is used as the default."),
           ]),
    define("servicenode", "List of all Service Nodes and services that will be set up on the "
           "Service Node.", "node", [
               ("node", "The hostname of the service node as known by the Management Node."),
               ("nameserver", "Do we set up DNS on this service node? Valid values: 2, 1, or "
                "0. If 2, creates named.conf as dns slave, using the management node as dns "
                "master, and starts named. If 1, creates named.conf file with forwarding to "
                "the management node and starts named. If 0, it does not change the current "
                "state of the service."),
               ("dhcpserver", "Do we set up DHCP on this service node? Not supported on AIX. "
                "Valid values:1 or 0. If 1, runs makedhcp -n. If 0, it does not change the "
                "current state of the service."),
               ("tftpserver", "Do we set up TFTP on this service node? Not supported on AIX. "
                "Valid values:1 or 0. If 1, configures and starts atftp. If 0, it does not "
                "change the current state of the service."),
               ("nfsserver", "Do we set up file services (HTTP,FTP,or NFS) on this service "
                "node? For AIX will only setup NFS, not HTTP or FTP. Valid values:1 or 0.If "
                "0, it does not change the current state of the service."),
               ("conserver", "Do we set up Conserver on this service node?  Valid values:1 or "
                "0. If 1, configures and starts conserver daemon. If 0, it does not change "
                "the current state of the service."),
               ("monserver", "Is this a monitoring event collection point? Valid values: 1 or "
                "0. If 0, it does not change the current state of the service."),
               ("ldapserver", "Do we set up ldap caching proxy on this service node? Not "
                "supported on AIX.  Valid values:1 or 0. If 0, it does not change the current "
                "state of the service."),
               ("ntpserver", "Not used. Use setupntp postscript to setup a ntp server on this "
                "service node? Valid values:1 or 0. If 0, it does not change the current "
                "state of the service."),
               ("ftpserver", "Do we set up a ftp server on this service node? Not supported on "
                "AIX Valid values:1 or 0. If 1, configure and start vsftpd.  (You must "
                "manually install vsftpd on the service nodes before this.) If 0, it does not "
                "change the current state of the service."),
               ("nimserver", "Not used. Do we set up a NIM server on this service node? Valid "
                "values:1 or 0. If 0, it does not change the current state of the service."),
               ("ipforward", "Do we set up ip forwarding on this service node? Valid values:1 "
                "or 0. If 0, it does not change the current state of the service."),
               ("dhcpinterfaces", "The network interfaces DHCP server should listen on for the "
                "target node. This attribute can be used for management node and service "
                "nodes.  If defined, it will override the values defined in "
                "site.dhcpinterfaces. This is a comma separated list of device names. "
                "!remote! indicates a non-local network for relay DHCP. For example: "
                "!remote!,eth0,eth1"),
               ("proxydhcp", "Do we set up proxydhcp service on this node? valid values: 1 or "
                "0. If 1, the proxydhcp daemon will be enabled on this node."),
           ]),
    define("nodegroup", "Contains group definitions, whose membership is dynamic depending on "
           "characteristics of the node.", "groupname", [
               ("groupname", "Name of the group."),
               ("grouptype", "The only current valid value is dynamic.  We will be looking at "
                "having the object def commands working with static group definitions in the "
                "nodelist table."),
               ("members", "The value of the attribute is not used, but the attribute is "
                "necessary as a place holder for the object def commands.  (The membership "
                "for static groups is stored in the nodelist table.)"),
               ("membergroups", "This attribute stores a comma-separated list of nodegroups "
                "that this nodegroup refers to. This attribute is only used by PCM."),
               ("wherevals", "A list of \"attr*val\" pairs that can be used to determine the "
                "members of a dynamic group, the delimiter is \"::\" and the operator * can "
                "be ==, =~, != or !~."),
           ]),
]
