"""Simulators for what cannot run here: hypervisor toolstacks (behind a real sshd) and BMCs."""
