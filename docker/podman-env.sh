# Sourced by docker/test.sh: points podman (and podman-compose, which calls
# it) at a containers.conf of our own in the build folder, fitted to this
# kind of machine, so /etc/containers stays as Debian ships it.
# Needs BUILD_DIR set; exports CONTAINERS_CONF.

# The container's limits may not exceed this process's hard limits, or
# runc's setrlimit fails and no container starts; nproc is capped at
# 32768, plenty for one chatd.
# (Read from /proc, as dash's ulimit has no nproc option.)
hard_limit() {
	awk -v what="$1" '$0 ~ "^" what { print $(NF - 1) }' /proc/self/limits
}
hard_nofile=$(hard_limit 'Max open files')
[ "$hard_nofile" = unlimited ] && hard_nofile=1048576
hard_nproc=$(hard_limit 'Max processes')
if [ "$hard_nproc" = unlimited ] || [ "$hard_nproc" -gt 32768 ]; then
	hard_nproc=32768
fi

mkdir -p "$BUILD_DIR"
cat >"$BUILD_DIR/containers.conf" <<CONF
# Written by docker/podman-env.sh; see there.
[containers]
default_ulimits = [
  "nofile=$hard_nofile:$hard_nofile",
  "nproc=$hard_nproc:$hard_nproc",
]

[engine]
# crun refuses this machine's hybrid cgroup v1/v2 layout; runc does not.
runtime = "runc"
# No systemd runs here to manage cgroups or keep a journal.
cgroup_manager = "cgroupfs"
events_logger = "file"

[network]
# Debian's podman also ships a CNI config, but no CNI plugins: netavark
# (with aardvark-dns for podman-compose's service names) is the one here.
network_backend = "netavark"
CONF
case $BUILD_DIR in
/*) CONTAINERS_CONF="$BUILD_DIR/containers.conf" ;;
*) CONTAINERS_CONF="$PWD/$BUILD_DIR/containers.conf" ;;
esac
export CONTAINERS_CONF
