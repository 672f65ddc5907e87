"""OS image definitions: what a node installs or netboots (xCAT's Schema.pm keys and text)."""

from xcatpy.db.schema import define

_IMAGENAME = ("imagename", "The name of this xCAT OS image definition.")

TABLES = [
    define("osimage", "Basic information about an operating system image that can be used "
           "to deploy cluster nodes.", "imagename", [
               _IMAGENAME,
               ("groups", "A comma-delimited list of image groups of which this image is a "
                "member.  Image groups can be used in the litefile and litetree table instead "
                "of a single image name. Group names are arbitrary."),
               ("profile", "The node usage category. For example compute, service."),
               ("imagetype", "The type of operating system image this definition represents "
                "(linux,AIX)."),
               ("description", "OS Image Description"),
               ("provmethod", "The provisioning method for node deployment. The valid values "
                "are install, netboot,statelite,boottarget,dualboot,sysclone. If boottarget "
                "is set, you must set linuximage.boottarget to the name of the boottarget "
                "definition. It is not used by AIX."),
               ("rootfstype", "The filesystem type for the rootfs is used when the provmethod "
                "is statelite. The valid values are nfs or ramdisk. The default value is nfs"),
               ("osdistroname", "The name of the OS distro definition.  This attribute can be "
                "used to specify which OS distro to use, instead of using the osname,osvers,"
                "and osarch attributes."),
               ("osupdatename", "A comma-separated list of OS distro updates to apply to this "
                "osimage."),
               ("cfmdir", "CFM directory name for PCM. Set to "
                "/install/osimages/<osimage name>/cfmdir by PCM."),
               ("osname", "Operating system name- AIX or Linux."),
               ("osvers", "The Linux operating system deployed on this node.  Valid values:  "
                "rhels*,rhelc*, rhas*,centos*,rocky*,SL*, fedora*, sles* (where * is the "
                "version #)."),
               ("osarch", "The hardware architecture of this node.  Valid values: x86_64, "
                "ppc64, x86, ia64."),
               ("synclists", "The fully qualified name of a file containing a list of files "
                "to synchronize on the nodes. Can be a comma separated list of multiple "
                "synclist files."),
               ("postscripts", "Comma separated list of scripts that should be run on this "
                "image after diskful installation or diskless boot. For diskless deployment, "
                "the scripts will be run at the init.d time, and xCAT will automatically add "
                "the list of scripts from the postbootscripts attribute to run after "
                "postscripts list. See the site table runbootscripts attribute."),
               ("postbootscripts", "Comma separated list of scripts that should be run on "
                "this after diskful installation or diskless boot. On Linux they are run at "
                "the init.d time. xCAT automatically adds the scripts in the "
                "xcatdefaults.postbootscripts attribute to run first in the list. See the "
                "site table runbootscripts attribute."),
               ("serverrole", "The role of the server created by this osimage.  Default roles: "
                "mgtnode, servicenode, compute, login, storage, utility."),
               ("isdeletable", "A flag to indicate whether this image profile can be deleted. "
                " This attribute is only used by PCM."),
               ("kitcomponents", "List of Kit Component IDs assigned to this OS Image "
                "definition."),
               ("environvar", "Comma delimited environment variables for the osimage"),
           ]),
    define("linuximage", "Information about a Linux operating system image that can be used "
           "to deploy cluster nodes.", "imagename", [
               _IMAGENAME,
               ("template", "The fully qualified name of the template file that will be used "
                "to create the OS installer configuration file for stateful installations "
                "(e.g.  kickstart for RedHat, autoyast for SLES)."),
               ("boottarget", "The name of the boottarget definition.  When this attribute is "
                "set, xCAT will use the kernel, initrd and kernel params defined in the "
                "boottarget definition instead of the default."),
               ("addkcmdline", "User specified arguments to be passed to the kernel.  The user "
                "arguments are appended to xCAT.s default kernel arguments. For the kernel "
                "options need to be persistent after installation, specify them with prefix "
                "\"R::\".  This attribute is ignored if linuximage.boottarget is set."),
               ("pkglist", "The fully qualified name of the file that stores the distro  "
                "packages list that will be included in the image. Make sure that if the pkgs "
                "in the pkglist have dependency pkgs, the dependency pkgs should be found in "
                "one of the pkgdir"),
               ("pkgdir", "The name of the directory where the distro packages are stored. It "
                "could be set multiple paths.The multiple paths must be seperated by \",\". "
                "The first path in the value of osimage.pkgdir must be the OS base pkg dir "
                "path, such as pkgdir=/install/rhels6.2/x86_64,/install/updates ."),
               ("otherpkglist", "The fully qualified name of the file that stores non-distro "
                "package lists that will be included in the image. It could be set multiple "
                "paths.The multiple paths must be seperated by \",\"."),
               ("otherpkgdir", "The base directory where the non-distro packages are stored. "
                "Only 1 local directory supported at present."),
               ("exlist", "The fully qualified name of the file that stores the file names "
                "and directory names that will be excluded from the image during packimage "
                "command.  It is used for diskless image only."),
               ("postinstall", "The fully qualified name of the script file that will be run "
                "at the end of the genimage command. It could be set multiple paths.The "
                "multiple paths must be seperated by \",\". It is used for diskless image "
                "only."),
               ("rootimgdir", "The directory name where the image is stored.  It is generally "
                "used for diskless image. it also can be used in sysclone environment to "
                "specify where the image captured from golden client is stored."),
               ("kerneldir", "The directory name where the 3rd-party kernel is stored. It is "
                "used for diskless image only."),
               ("nodebootif", "The network interface the stateless/statelite node will boot "
                "over (e.g. eth0)"),
               ("otherifce", "Other network interfaces (e.g. eth1) in the image that should be "
                "configured via DHCP"),
               ("netdrivers", "The ethernet device drivers of the nodes which will use this "
                "linux image, at least the device driver for the nodes' installnic should be "
                "included"),
               ("kernelver", "The version of linux kernel used in the linux image. If the "
                "kernel version is not set, the default kernel in rootimgdir will be used"),
               ("krpmver", "The rpm version of kernel packages (for SLES only). If it is not "
                "set, the default rpm version of kernel packages will be used."),
               ("permission", "The mount permission of /.statelite directory is used, its "
                "default value is 755"),
               ("dump", "The NFS directory to hold the Linux kernel dump file (vmcore) when "
                "the node with this image crashes, its format is "
                "\"nfs://<nfs_server_ip>/<kdump_path>\". If you want to use the node's "
                "\"xcatmaster\" (its SN or MN), <nfs_server_ip> can be left blank."),
               ("crashkernelsize", "the size that assigned to the kdump kernel. If the kernel "
                "size is not set, 256M will be the default value."),
               ("partitionfile", "The path of the configuration file which will be used to "
                "partition the disk for the node. For stateful osimages, two types of files "
                "are supported: \"<partition file absolute path>\" which contains a "
                "partitioning definition that will be inserted directly into the generated "
                "autoinst configuration file, and \"s:<partitioning script absolute path>\" "
                "which specifies a shell script run from the installer's %pre section that "
                "writes the partitioning definition into /tmp/partitionfile."),
               ("driverupdatesrc", "The source of the drivers which need to be loaded during "
                "the boot. Two types of driver update source are supported: Driver update "
                "disk and Driver rpm package. The value for this attribute should be comma "
                "separated sources. Each source should be the format "
                "tab:full_path_of_srouce_file. The tab keyword can be: dud (for Driver update "
                "disk) and rpm (for driver rpm). If missing the tab, the rpm format is the "
                "default. e.g. dud:/install/dud/dd.img,rpm:/install/rpm/d.rpm"),
           ]),
]
