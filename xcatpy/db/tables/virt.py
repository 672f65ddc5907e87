"""Tables for virtual machines and the hypervisors that run them.

xCAT's columns first (Schema.pm order and text), then the columns xcatpy adds for
capacity, placement and migration, marked as extensions.
"""

from xcatpy.db.schema import define

TABLES = [
    define("vm", "Virtualization parameters", "node", [
        ("node", "The node or static group name"),
        ("mgr", "The function manager for the virtual machine"),
        ("host", "The system that currently hosts the VM"),
        ("migrationdest", "A noderange representing candidate destinations for migration "
         "(i.e. similar systems, same SAN, or other criteria that xCAT can use"),
        ("storage", "A list of storage files or devices to be used.  i.e. "
         "dir:///cluster/vm/<nodename> or nfs://<server>/path/to/folder/"),
        ("storagemodel", "Model of storage devices to provide to guest"),
        ("storagecache", "Select caching scheme to employ.  E.g. KVM understands 'none', "
         "'writethrough' and 'writeback'"),
        ("storageformat", "Select disk format to use by default (e.g. raw versus qcow2)"),
        ("cfgstore", "Optional location for persistent storage separate of emulated hard "
         "drives for virtualization solutions that require persistent store to place "
         "configuration data"),
        ("memory", "Megabytes of memory the VM currently should be set to."),
        ("cpus", "Number of CPUs the node should see."),
        ("nics", "Network configuration parameters.  Of the general form "
         "[physnet:]interface,.. Generally, interface describes the vlan entity (default for "
         "native, tagged for tagged, vl[number] for a specific vlan.  physnet is a virtual "
         "switch name or port description that is used for some virtualization technologies "
         "to construct virtual switches.  hypervisor.netmap can map names to hypervisor "
         "specific layouts, or the descriptions described there may be used directly here "
         "where possible."),
        ("nicmodel", "Model of NICs that will be provided to VMs (i.e. e1000, rtl8139, "
         "virtio, etc)"),
        ("bootorder", "Boot sequence (i.e. net,hd)"),
        ("clockoffset", "Whether to have guest RTC synced to \"localtime\" or \"utc\"  If not "
         "populated, xCAT will guess based on the nodetype.os contents."),
        ("virtflags", "General flags used by the virtualization method.  For example, in Xen "
         "it could, among other things, specify paravirtualized setup, or direct kernel boot. "
         " For a hypervisor/dom0 entry, it is the virtualization method (i.e. \"xen\").  For "
         "KVM, the following flag=value pairs are recognized: "
         "imageformat=[raw|fullraw|qcow2], clonemethod=[qemu-img|reflink], "
         "placement_affinity=[migratable|user_migratable|pinned]"),
        ("master", "The name of a master image, if any, this virtual machine is linked to.  "
         "This is generally set by clonevm and indicates the deletion of a master that would "
         "invalidate the storage of this virtual machine"),
        ("vncport", "Tracks the current VNC display port (currently not meant to be set"),
        ("textconsole", "Tracks the Psuedo-TTY that maps to the serial port or console of a "
         "VM"),
        ("powerstate", "This flag is used by xCAT to track the last known power state of the "
         "VM."),
        ("beacon", "This flag is used by xCAT to track the state of the identify LED with "
         "respect to the VM."),
        ("datacenter", "Optionally specify a datacenter for the VM to exist in (only "
         "applicable to VMWare)"),
        ("cluster", "Specify to the underlying virtualization infrastructure a cluster "
         "membership for the hypervisor."),
        ("guestostype", "This allows administrator to specify an identifier for OS to pass "
         "through to virtualization stack.  Normally this should be ignored as xCAT will "
         "translate from nodetype.os rather than requiring this field be used"),
        ("othersettings", "This is a semicolon-delimited list of key-value pairs to be "
         "included in a vmx file of VMware or KVM (hugepage and bsr values on POWER, "
         "'cpumode:host-passthrough', 'vcpupin:...', 'membind:0', "
         "'devpassthrough:pci_0001_01_00_0,...', 'machine:pc')."),
        ("physlots", "Specify the physical slots drc index that will assigned to the "
         "partition, the delimiter is ',', and the drc index must started with '0x'. For more "
         "details, reference manpage for 'lsvm'."),
        ("vidmodel", "Model of video adapter to provide to guest.  For example, qxl in KVM"),
        ("vidproto", "Request a specific protocol for remote video access be set up.  For "
         "example, spice in KVM."),
        ("vidpassword", "Password to use instead of temporary random tokens for VNC and "
         "SPICE access"),
    ], extensions=[
        ("uuid", "The guest's UUID, generated once when the guest is first created and "
         "kept."),
        ("maxmem", "Megabytes the guest may balloon up to (Xen maxmem); defaults to memory."),
        ("autostart", "Start the guest when its hypervisor boots (yes/no)."),
    ]),
    define("hypervisor", "Hypervisor parameters", "node", [
        ("node", "The node or static group name"),
        ("type", "The plugin associated with hypervisor specific commands such as revacuate"),
        ("mgr", "The virtualization specific manager of this hypervisor when applicable"),
        ("interface", "The definition of interfaces for the hypervisor. The format is "
         "[networkname:interfacename:bootprotocol:IP:netmask:gateway] that split with | for "
         "each interface"),
        ("netmap", "Optional mapping of useful names to relevant physical ports.  For "
         "example, 10ge=vmnic_16.0&vmnic_16.1,ge=vmnic1 would be requesting two virtual "
         "switches to be created, one called 10ge with vmnic_16.0 and vmnic_16.1 bonded, and "
         "another simply connected to vmnic1.  Use of this allows abstracting guests from "
         "network differences amongst hypervisors"),
        ("defaultnet", "Optionally specify a default network entity for guests to join to if "
         "they do not specify."),
        ("cluster", "Specify to the underlying virtualization infrastructure a cluster "
         "membership for the hypervisor."),
        ("datacenter", "Optionally specify a datacenter for the hypervisor to exist in (only "
         "applicable to VMWare)"),
        ("preferdirect", "If a mgr is declared for a hypervisor, xCAT will default to using "
         "the mgr for all operations.  If this is field is set to yes or 1, xCAT will prefer "
         "to directly communicate with the hypervisor if possible"),
    ], extensions=[
        ("memory", "Total physical memory of the host in megabytes."),
        ("overhead", "Megabytes the hypervisor itself keeps (Xen heap, page tables)."),
        ("dom0mem", "Megabytes reserved for dom0 (passed as dom0_mem= at boot)."),
        ("relocation", "Whether the host accepts live migrations (yes/no); xend "
         "xend-relocation-server or the xl migration daemon."),
        ("relocationhosts", "Hosts allowed to migrate guests here "
         "(xend-relocation-hosts-allow)."),
        ("maintenance", "Set to yes while the host is in maintenance: no placement targets "
         "it."),
        ("cpufeatures", "CPU feature mask of the host (comma-separated flags) for migration "
         "compatibility."),
    ]),
    # Not in xCAT: revacuate and rmigrate write a row here before a guest moves and delete it
    # in the commit that records where the guest landed, so a row that outlives its
    # command is a migration whose outcome nobody recorded (xcatd died under it).
    define("migrationjournal", "(xcatpy extension) Migrations in progress: one row per guest "
           "planned to move or moving. A row left behind by a command that is no longer "
           "running is an interrupted evacuation or migration; `revacuate --status` shows "
           "them and `revacuate --resume` finishes them. Manual changes are not intended.",
           "node", [
               ("node", "The guest."),
               ("source", "The hypervisor the guest was leaving."),
               ("dest", "The hypervisor it was going to."),
               ("state", "planned (not started) or moving (the migration was started)."),
               ("statetime", "When the row got its state."),
               ("application", "The command that moved it: revacuate, revacuate -f or "
                "rmigrate."),
               ("hosts", "The hypervisors that command was emptying (revacuate), else the "
                "destination."),
               ("command", "The command line as the user typed it."),
               ("username", "Who ran it."),
               ("started", "When the command started."),
               ("owner", "The process running the command (host:pid:start ticks); empty "
                "once that command ended without recording the outcome."),
           ]),
    define("vmmaster", "Inventory of virtualization images for use with clonevm.  Manual "
           "intervention in this table is not intended.", "name", [
               ("name", "The name of a master"),
               ("os", "The value of nodetype.os at the time the master was captured"),
               ("arch", "The value of nodetype.arch at the time of capture"),
               ("profile", "The value of nodetype.profile at time of capture"),
               ("storage", "The storage location of bulk master information"),
               ("storagemodel", "The default storage style to use when modifying a vm cloned "
                "from this master"),
               ("nics", "The nic configuration and relationship to vlans/bonds/etc"),
               ("vintage", "When this image was created"),
               ("originator", "The user who created the image"),
               ("virttype", "The type of virtualization this image pertains to (e.g. vmware, "
                "kvm, etc)"),
               ("specializeparameters", "Implementation specific arguments, currently only "
                "\"autoLogonCount=<number\" for ESXi clonevme"),
           ]),
]
