#!/bin/busybox sh
# /init of the cgroup v2 lane's initramfs (PID 1 in the QEMU guest).
#
# Stage 1 (the initramfs): loads the virtio/9p modules, mounts the host's root
# read-only (9p tag "hostroot") and the run's scratch directory read-write
# (9p tag "io"), builds the guest's root: an overlayfs with the host root as
# its lower layer and guest memory as its upper one (the host is never
# written), fresh proc, sysfs, devtmpfs, cgroup2 at /sys/fs/cgroup, tmpfs on
# /tmp and /run, the io share at /run/v2-lane. Then it moves that root onto /
# and chroots into it, like switch_root, so that the guest's mount namespace
# has the host tree as its real root: a process that joins a container's
# mount namespace (setns, as tsrun exec does) lands in the container's root
# only when the container was pivoted from the namespace's real root.
#
# Stage 2 (this script again, from the new root): runs /run/v2-lane/cmd.sh
# with its output in /run/v2-lane/output, writes the exit status to
# /run/v2-lane/rc and powers the machine off.
#
# With V2_LANE_INIT=systemd (run.sh writes it to /run/v2-lane/init-mode),
# stage 2 instead execs /lib/systemd/systemd as PID 1 with a target of its
# own: a oneshot service runs the command (this script, "command"), with
# dbus socket-activated, and powers the machine off when it ends. Nothing
# else of the host's boot (sysinit.target, udev, journald, gettys) starts.
export PATH=/bin:/sbin
msg() { echo "v2-lane-guest: $*"; }

bb=/run/v2-lane-init/busybox
io=/run/v2-lane
run_command() {
  /bin/sh $io/cmd.sh </dev/null >$io/output 2>&1
  $bb echo $? >$io/rc.tmp
  $bb mv $io/rc.tmp $io/rc
  msg "command exited $($bb cat $io/rc) at $($bb cut -d' ' -f1 /proc/uptime)s of uptime"
}

# Under systemd: the lane's service runs this.
if [ "$1" = command ]; then
  $bb echo "$($bb cut -d' ' -f1 /proc/uptime)" >$io/boot-seconds
  run_command
  exit 0
fi

if [ "$1" = stage2 ]; then
  $bb mount --make-rprivate /
  $bb echo "$($bb cut -d' ' -f1 /proc/uptime)" >$io/boot-seconds
  msg "kernel $($bb uname -r), cgroup2 controllers: $($bb cat /sys/fs/cgroup/cgroup.controllers), root: $($bb cat $io/root-kind)"
  if [ "$($bb cat $io/init-mode 2>/dev/null)" = systemd ]; then
    [ -x /lib/systemd/systemd ] || { $bb echo "no /lib/systemd/systemd in the host root (apt-get install systemd)" >$io/guest-error; $bb poweroff -f; }
    # Runtime units (/run/systemd/system is on systemd's unit path): the
    # lane's target, its service, and dbus without its default dependencies.
    u=/run/systemd/system
    $bb mkdir -p $u/dbus.service.d $u/dbus.socket.d
    $bb printf '[Unit]\nDescription=cgroup v2 lane\nRequires=v2-lane.service\nAllowIsolate=yes\n' >$u/v2-lane.target
    $bb printf '%s\n' '[Unit]' 'Description=cgroup v2 lane: the command' 'DefaultDependencies=no' \
      'Wants=dbus.socket' 'After=dbus.socket' 'SuccessAction=poweroff-force' 'FailureAction=poweroff-force' \
      '[Service]' 'Type=oneshot' "ExecStart=$bb sh /run/v2-lane-init/init command" \
      'StandardOutput=null' 'StandardError=null' 'TimeoutStartSec=infinity' >$u/v2-lane.service
    $bb printf '[Unit]\nDefaultDependencies=no\n[Service]\nStandardOutput=null\nStandardError=null\n' >$u/dbus.service.d/v2-lane.conf
    $bb printf '[Unit]\nDefaultDependencies=no\n' >$u/dbus.socket.d/v2-lane.conf
    msg "exec systemd as PID 1"
    exec /lib/systemd/systemd --system --unit=v2-lane.target --log-target=console --log-level=warning --show-status=false
  fi
  run_command
  # Let the command's leftovers go, then power off.
  $bb kill -9 -1 2>/dev/null
  $bb sync
  $bb poweroff -f
  exit 1
fi

halt() {
  sync
  poweroff -f
  sleep 5
  echo o >/proc/sysrq-trigger
}
fail() {
  msg "FATAL: $*"
  if mountpoint -q /io; then echo "$*" >/io/guest-error; fi
  halt
}

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1

for m in $(cat /mods/order); do
  insmod "/mods/$m" || fail "insmod $m failed"
done

ninep=trans=virtio,version=9p2000.L,msize=512000
mount -t 9p -o "$ninep,cache=none" io /io || fail "cannot mount the io share over 9p"
mount -t 9p -o "$ninep,cache=loose,ro" hostroot /lower || fail "cannot mount the host root over 9p"
[ -f /io/cmd.sh ] || fail "no cmd.sh in the io share"

# A writable view of the read-only host root: whatever the command writes
# (vitest caches, node_modules/.vite, ...) lands in guest memory.
R=/newroot
mount -t tmpfs -o mode=0755 upper /upper
mkdir -p /upper/u /upper/w
if mount -t overlay -o lowerdir=/lower,upperdir=/upper/u,workdir=/upper/w overlay $R 2>/dev/null; then
  echo overlay >/io/root-kind
else
  msg "overlayfs over 9p unavailable: the root stays read-only (tmpfs /tmp and /run)"
  mount --bind /lower $R || fail "cannot bind the host root"
  echo 9p-ro >/io/root-kind
fi

mount -t proc proc $R/proc || fail "mount proc"
mount -t sysfs sysfs $R/sys || fail "mount sysfs"
mount -t devtmpfs devtmpfs $R/dev || fail "mount devtmpfs"
mkdir -p $R/dev/pts $R/dev/shm $R/dev/mqueue 2>/dev/null
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5 devpts $R/dev/pts
mount -t tmpfs -o mode=1777 shm $R/dev/shm
mount -t mqueue mqueue $R/dev/mqueue 2>/dev/null
mount -t cgroup2 -o nsdelegate cgroup2 $R/sys/fs/cgroup || fail "mount cgroup2"
mount -t tmpfs -o mode=1777 tmp $R/tmp || fail "mount /tmp"
mount -t tmpfs -o mode=0755 run $R/run || fail "mount /run"
# A checkout under /tmp or /run is hidden by those tmpfs mounts: bind the
# host's copy (from the 9p root) back in place.
if [ -f /io/workdir ]; then
  wd=$(cat /io/workdir)
  case "$wd" in
  /tmp/* | /run/*)
    mkdir -p "$R$wd" && mount --bind "/lower$wd" "$R$wd" || fail "cannot bind the checkout $wd"
    ;;
  esac
fi
mkdir -p $R/run/v2-lane $R/run/v2-lane-init
cp /bin/busybox /init $R/run/v2-lane-init/ || fail "cannot copy busybox into the new root"
mount --move /io $R/run/v2-lane || fail "cannot move the io share"

# switch_root by hand (busybox's insists on emptying the initramfs first).
umount -l /proc /sys /dev 2>/dev/null
cd $R || fail "cd $R"
mount --move . / || fail "cannot move the new root onto /"
exec chroot . /run/v2-lane-init/busybox sh /run/v2-lane-init/init stage2
