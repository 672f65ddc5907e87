"""OS image definitions: what a node installs or netboots."""

from xcatpy.db.schema import define

TABLES = [
    define("osimage", "Basic information about an operating system image that can be used "
           "to deploy cluster nodes.", "imagename", [
               ("imagename", "The name of this xCAT OS image definition."),
               ("groups", "A comma-delimited list of image groups of which this image is a "
                "member."),
               ("profile", "The node usage category. For example compute, service."),
               ("imagetype", "The type of operating system image this definition "
                "represents (linux,AIX)."),
               ("description", "OS Image Description"),
               ("provmethod", "The provisioning method for node deployment. The valid values "
                "are install, netboot,statelite,boottarget,dualboot,sysclone."),
               ("rootfstype", "The filesystem type for the rootfs is used when the "
                "provmethod is statelite. The valid values are nfs or ramdisk."),
               ("osdistroname", "The name of the OS distro definition."),
               ("osupdatename", "A comma-separated list of OS distro updates that this image "
                "should include."),
               ("cfmdir", "CFM directory name for PCM."),
               ("osname", "Operating system name- AIX or Linux."),
               ("osvers", "The Linux operating system deployed on this node. Valid values: "
                "rhels*,rhelc*, rhas*,centos*,SL*, fedora*, sles* (where * is the version #)."),
               ("osarch", "The hardware architecture of this node. Valid values: x86_64, "
                "ppc64, x86, ia64."),
               ("synclists", "The fully qualified name of a file containing a list of files "
                "to synchronize on the nodes."),
               ("postscripts", "Comma separated list of scripts that should be run on this "
                "image after diskful installation or diskless boot."),
               ("postbootscripts", "Comma separated list of scripts that should be run on "
                "this after diskful installation or diskless boot."),
               ("serverrole", "The role of the server created by this osimage."),
               ("isdeletable", "A flag to indicate whether this image profile can be "
                "deleted."),
               ("kitcomponents", "List of Kit Component IDs assigned to this OS Image "
                "definition."),
               ("environvar", "Comma delimited environment variables for the osimage."),
           ]),
    define("linuximage", "Information about a Linux operating system image that can be used "
           "to deploy cluster nodes.", "imagename", [
               ("imagename", "The name of this xCAT OS image definition."),
               ("template", "The fully qualified name of the template file that will be used "
                "to create the OS installer configuration file for stateful installations "
                "(e.g. kickstart for RedHat, autoyast for SLES)."),
               ("boottarget", "The name of the boottarget definition."),
               ("addkcmdline", "User specified arguments to be passed to the kernel."),
               ("pkglist", "The fully qualified name of the file that stores the distro "
                "packages list that will be included in the image."),
               ("pkgdir", "The name of the directory where the distro packages are stored."),
               ("otherpkglist", "The fully qualified name of the file that stores non-distro "
                "package lists that will be included in the image."),
               ("otherpkgdir", "The base directory where the non-distro packages are stored."),
               ("exlist", "The fully qualified name of the file that stores the file names "
                "and directory names that will be excluded from the image during packimage "
                "command."),
               ("postinstall", "Supported in diskless image only. The fully qualified name of "
                "the scripts running in non-chroot mode after the package installation."),
               ("rootimgdir", "The directory name where the image is stored."),
               ("kerneldir", "The directory name where the 3rd-party kernel is stored."),
               ("nodebootif", "The network interface the stateless/statelite node will boot "
                "over (e.g. eth0)"),
               ("otherifce", "Other network interfaces (e.g. eth1) in the image that should "
                "be configured via DHCP"),
               ("netdrivers", "The ethernet device drivers of the nodes which will use this "
                "linux image."),
               ("kernelver", "The version of linux kernel used in the linux image."),
               ("krpmver", "The rpm version of kernel packages (for SLES only)."),
               ("permission", "The mount permission of /.statelite directory is used, its "
                "default value is 755"),
               ("dump", "The NFS directory to hold the Linux kernel dump file (vmcore) when "
                "the node with this image crashes."),
               ("crashkernelsize", "the size that assigned to the kdump kernel."),
               ("partitionfile", "The path of the configuration file which will be used to "
                "partition the disk for the node."),
               ("driverupdatesrc", "The source of the drivers which need to be loaded during "
                "the boot."),
           ]),
]
