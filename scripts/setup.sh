#!/usr/bin/env bash
# Installs what Backplane needs on a Debian machine: C libraries it links against, the RISC-V
# cross toolchains that build the guest test programs, and the real firmware and QEMU that the
# tests use as fixtures and oracle. Idempotent: packages already present are not fetched again.
set -euo pipefail

packages=(
  # Libraries Backplane links: device trees, host PCI and USB passthrough, disassembly in JIT tests.
  libfdt-dev libpci-dev libusb-1.0-0-dev libcapstone-dev pkg-config
  # Host device names for `backplane host pci` (pci.ids) and lspci for the passthrough tests.
  pci.ids pciutils
  # Guest programs and their checks.
  gcc-riscv64-unknown-elf binutils-riscv64-unknown-elf picolibc-riscv64-unknown-elf
  device-tree-compiler gdb-multiarch
  # The Linux guest: Debian's kernel source, built with Debian's cross compiler (scripts/build-linux.sh).
  linux-source-6.12 gcc-riscv64-linux-gnu libc6-dev-riscv64-cross make bc bison flex libelf-dev libssl-dev cpio
  # The development guest (scripts/linux-guest.sh): `apt-get source busybox` unpacks with dpkg-source.
  dpkg-dev
  # User-mode networking behind virtio-net.
  libslirp-dev
  # Real firmware and the differential oracle.
  opensbi u-boot-qemu qemu-system-misc qemu-user
  # The nested x86-64 test machine for VFIO and USB passthrough (scripts/nested/run.sh).
  qemu-system-x86 busybox-static
  python3 expect
)

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v swift >/dev/null 2>&1; then
  for candidate in /opt/swift/usr/bin /usr/share/swift/usr/bin; do
    [ -x "$candidate/swift" ] && export PATH="$candidate:$PATH"
  done
fi
command -v swift >/dev/null 2>&1 || { echo "setup: error: no Swift toolchain on PATH (Swift 6 is required)" >&2; exit 2; }
