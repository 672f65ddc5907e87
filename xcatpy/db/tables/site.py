"""Cluster-wide settings, credentials and the access policy."""

from xcatpy.db.schema import define

TABLES = [
    define("site", "Global settings for the whole cluster.", "key", [
        ("key", "Name of the attribute."),
        ("value", "The value of the attribute."),
    ]),
    define("passwd", "Contains default userids and passwords for xCAT to access cluster "
           "components.", ("key", "username"), [
               ("key", "The type of component this user/pw is for. Valid values: blade, "
                "system, ipmi, cisco, vios, hmc, ivm, fsp, switch, xen, kvm, ..."),
               ("username", "The default userid for this type of component"),
               ("password", "The default password for this type of component. On Linux, a "
                "crypted form could be provided."),
               ("cryptmethod", "Indicates the method that was used to encrypt the password "
                "attribute (md5, sha256, sha512)."),
               ("authdomain", "The domain in which this entry has meaning."),
           ]),
    define("policy", "The policy table in the xCAT database controls who has authority to "
           "run specific xCAT operations.", "priority", [
               ("priority", "The priority value for this rule. This value is used to "
                "identify this policy data object (i.e. this rule) The table entries are "
                "inspected in ascending order of this value."),
               ("name", "The username that is allowed to perform the commands specified by "
                "this rule. Default is \"*\" (all users)."),
               ("host", "The host from which users may issue the commands specified by this "
                "rule. Default is \"*\" (all hosts)."),
               ("commands", "The list of commands that this rule applies to. Default is "
                "\"*\" (all commands)."),
               ("noderange", "The Noderange that this rule applies to. Default is \"*\" (all "
                "nodes)."),
               ("parameters", "A regular expression that matches the command parameters "
                "(everything except the noderange) that this rule applies to."),
               ("time", "Time ranges that this command may be executed in. This is not "
                "supported."),
               ("rule", "Specifies how this rule should be applied. Valid values are: allow, "
                "accept, trusted. Allow or accept will allow the user to run the commands. "
                "Any other value will deny the user access to the commands."),
           ]),
]
