#!/bin/sh
# Installs the Debian packages the test suite runs as real peers: TFTP clients, DHCP
# clients and servers, BIND, QEMU with iPXE, nginx and tftpd-hpa (the classic stack
# the boot-storm benchmark measures against), OpenSSH (for simulated hypervisors), OpenIPMI
# and ipmitool (for simulated BMCs), nmap (the port scan of tests/load). The tests start
# their own instances on loopback or in namespaces; the packages' own services must not
# start on install (a fresh machine would otherwise run named on every address), so while
# installing, policy-rc.d refuses service starts, unless the machine already has its own
# policy.
set -eu
own_policy=
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    own_policy=1
fi
trap '[ -z "$own_policy" ] || rm -f /usr/sbin/policy-rc.d' EXIT
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
    python3-venv curl openssl iproute2 \
    tftp-hpa atftp tftpd-hpa nginx-light \
    dnsmasq-base busybox-static isc-dhcp-client isc-dhcp-server kea-dhcp4-server kea-admin \
    bind9 bind9-dnsutils \
    qemu-system-x86 ipxe-qemu pxelinux syslinux-common ipxe cpio \
    openssh-server openssh-client openipmi ipmitool nmap
