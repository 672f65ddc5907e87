"""Cluster-wide settings, credentials and the access policy (xCAT's Schema.pm keys and text)."""

from xcatpy.db.schema import define

TABLES = [
    define("site", "Global settings for the whole cluster.  This table is different from the "
           "other tables in that each attribute is just named in the key column, rather than "
           "having a separate column for each attribute. The following is a list of "
           "attributes currently used by xCAT organized into categories.", "key", [
               # xCAT's text here is the whole list of site attributes (site(5)); it is
               # reference documentation, not a column description.
               ("key", "Attribute Name: the name of a site attribute, for example master, "
                "domain, installdir, tftpdir, xcatdport, dhcplease, nameservers, forwarders, "
                "timezone (see site(5) for the attributes xCAT uses). xcatpy adds vmtimeout "
                "(seconds one hypervisor command may run, default 60; connecting waits at "
                "most 10 or vmtimeout if shorter) and vmmigratetimeout (seconds one live "
                "migration may run, default 3600)."),
               ("value", "The value of the attribute specified in the \"key\" column."),
           ]),
    define("passwd", "Contains default userids and passwords for xCAT to access cluster "
           "components.  In most cases, xCAT will also actually set the userid/password in the "
           "relevant component when it is being configured or installed.  Userids/passwords "
           "for specific cluster components can be overidden in other tables, e.g. mpa, ipmi, "
           "ppchcp, etc.", ("key", "username"), [
               ("key", "The type of component this user/pw is for.  Valid values: blade "
                "(management module), ipmi (BMC), system (nodes), omapi (DHCP), hmc, ivm, "
                "cec, frame, switch."),
               ("username", "The default userid for this type of component"),
               ("password", "The default password for this type of component. On Linux, a "
                "crypted form could be provided. Hashes starting with $1$, $5$ and $6$ (md5, "
                "sha256 and sha512 respectively) are supported."),
               ("cryptmethod", "Indicates the method to use to encrypt the password "
                "attribute.  On AIX systems, if a value is provided for this attribute it "
                "indicates that the password attribute is encrypted.  If the cryptmethod "
                "value is not set it indicates the password is a simple string value. On "
                "Linux systems, the cryptmethod can be set to md5, sha256 or sha512. If not "
                "set, sha256 will be used as default to encrypt plain-text passwords."),
               ("authdomain", "The domain in which this entry has meaning, e.g. specifying "
                "different domain administrators per active directory domain"),
           ]),
    define("policy", "The policy table in the xCAT database controls who has authority to run "
           "specific xCAT operations. It is basically the Access Control List (ACL) for xCAT. "
           "It is sorted on the priority field before evaluating.", "priority", [
               ("priority", "The priority value for this rule.  This value is used to "
                "identify this policy data object (i.e. this rule) The table is sorted on this "
                "field with the lower the number the higher the priority. For example 1.0 is "
                "higher priority than 4.1 is higher than 4.9."),
               ("name", "The username that is allowed to perform the commands specified by "
                "this rule.  Default is \"*\" (all users)."),
               ("host", "The host from which users may issue the commands specified by this "
                "rule.  Default is \"*\" (all hosts). Only all or one host is supported"),
               ("commands", "The list of commands that this rule applies to.  Default is "
                "\"*\" (all commands)."),
               ("noderange", "The Noderange that this rule applies to.  Default is \"*\" (all "
                "nodes). Not supported with the *def commands."),
               ("parameters", "A regular expression that matches the command parameters "
                "(everything except the noderange) that this rule applies to.  Default is "
                "\"*\" (all parameters). Not supported with the *def commands."),
               ("time", "Time ranges that this command may be executed in.  This is not "
                "supported."),
               ("rule", "Specifies how this rule should be applied.  Valid values are: allow, "
                "accept, trusted. Allow or accept  will allow the user to run the commands. "
                "Any other value will deny the user access to the commands. Trusted means "
                "that once this client has been authenticated via the certificate, all other "
                "information that is sent (e.g. the username) is believed without question.  "
                "This authorization should only be given to the xcatd on the management node "
                "at this time."),
           ]),
]
