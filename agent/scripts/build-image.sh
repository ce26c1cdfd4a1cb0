#!/usr/bin/env bash
# Builds the metalplane registration image from Debian's packages:
#
#   agent/dist/registration/vmlinuz        the kernel of linux-image-<abi>-amd64 (what linux-image-amd64 depends on)
#   agent/dist/registration/initrd.img     busybox-static + the agent + agent/image/init + NIC/disk drivers
#   agent/dist/registration/manifest.json  package versions, sizes and sha256 of both
#
# Run it as `npm run build:image -w @metalplane/agent`. The .debs are fetched with
# `apt-get download` into agent/.cache/debs/ and reused from there. The same .debs and sources
# give byte-identical output: every mtime is SOURCE_DATE_EPOCH (default: the newest file in the
# two packages), owners are 0:0, the archive is sorted, gzip stores no name or time.
#
# Environment:
#   METALPLANE_KERNEL_PACKAGE  kernel package to use (default: the one linux-image-amd64 depends on)
#   METALPLANE_AGENT_SCRIPT    agent to put in the image (default: agent/metalplane-agent.sh)
#   METALPLANE_IMAGE_CACHE     where the .debs are kept (default: agent/.cache/debs)
#   METALPLANE_IMAGE_OUT       output directory (default: agent/dist/registration)
#   SOURCE_DATE_EPOCH          timestamp of every file in the image
#
# Needs: apt-get, apt-cache, dpkg-deb, cpio (GNU, for --reproducible), gzip, sha256sum, and
# xz or zstd only if the kernel's modules are compressed. Runs on amd64 (it runs the packaged
# busybox to list its applets).
set -euo pipefail

started=$(date +%s.%N)
AGENT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
IMAGE_SRC=$AGENT_DIR/image
CACHE=${METALPLANE_IMAGE_CACHE:-$AGENT_DIR/.cache/debs}
OUT=${METALPLANE_IMAGE_OUT:-$AGENT_DIR/dist/registration}
AGENT_SCRIPT=${METALPLANE_AGENT_SCRIPT:-$AGENT_DIR/metalplane-agent.sh}
ARCH=amd64
export LC_ALL=C

say() { echo "build-image: $*" >&2; }
die() {
	say "error: $*"
	exit 1
}

for tool in apt-get apt-cache dpkg-deb cpio gzip sha256sum find sort; do
	command -v "$tool" >/dev/null || die "$tool is not installed (on Debian: apt-get install -y --no-install-recommends cpio)"
done
# Not `cpio --help | grep -q`: grep leaves at the first match, cpio dies of SIGPIPE, and
# pipefail turns that into "no --reproducible" now and then.
case "$(cpio --help 2>/dev/null || true)" in
*--reproducible*) ;;
*) die "cpio has no --reproducible (GNU cpio 2.12 or later is needed)" ;;
esac
[ -r "$AGENT_SCRIPT" ] || die "the agent $AGENT_SCRIPT does not exist"
sh -n "$AGENT_SCRIPT" || die "the agent $AGENT_SCRIPT has a syntax error"
for f in init udhcpc.script modules.txt; do
	[ -r "$IMAGE_SRC/$f" ] || die "$IMAGE_SRC/$f is missing"
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/metalplane-image.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# --- Debian packages -------------------------------------------------------------------------

updated=no
# apt_update WHY: `apt-get update`, at most once per run and only as root.
apt_update() {
	[ "$updated" = no ] || return 1
	if [ "$(id -u)" -ne 0 ]; then
		die "$1; run 'sudo apt-get update' (this script runs it by itself only as root)"
	fi
	say "$1: running apt-get update"
	apt-get update -qq >&2 || die "apt-get update failed"
	updated=yes
}

# candidate PACKAGE: the version apt would download, empty when apt does not know the package.
candidate() {
	apt-cache policy "$1" 2>/dev/null | awk '/^  Candidate:/ { if ($2 != "(none)") print $2 }'
}

# The kernel ABI package the metapackage points at, e.g. linux-image-6.1.0-56-amd64.
kernel_package() {
	apt-cache depends "linux-image-$ARCH" 2>/dev/null |
		awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }'
}

if [ -z "$(candidate busybox-static)" ]; then
	apt_update "apt knows no busybox-static (no package lists?)"
	[ -n "$(candidate busybox-static)" ] || die "busybox-static is not in the configured apt sources"
fi
KERNEL_PACKAGE=${METALPLANE_KERNEL_PACKAGE:-$(kernel_package)}
if [ -z "$KERNEL_PACKAGE" ] || [ -z "$(candidate "$KERNEL_PACKAGE")" ]; then
	apt_update "apt cannot resolve linux-image-$ARCH" || true
	KERNEL_PACKAGE=${METALPLANE_KERNEL_PACKAGE:-$(kernel_package)}
	if [ -z "$KERNEL_PACKAGE" ] || [ -z "$(candidate "$KERNEL_PACKAGE")" ]; then
		die "cannot resolve the kernel package of linux-image-$ARCH from the configured apt sources"
	fi
fi

mkdir -p "$CACHE"
# fetch PACKAGE: sets FETCHED to the cached .deb of apt's candidate version, downloading it if needed.
fetch() {
	local pkg=$1 version file sha expected
	version=$(candidate "$pkg")
	file="$CACHE/${pkg}_${version//:/%3a}_$ARCH.deb"
	expected=$(apt-cache show --no-all-versions "$pkg=$version" 2>/dev/null | awk '/^SHA256:/ { print $2; exit }')
	if [ -f "$file" ]; then
		sha=$(sha256sum "$file" | cut -d' ' -f1)
		if [ -z "$expected" ] || [ "$sha" = "$expected" ]; then
			say "cached: ${file##*/}"
			FETCHED=$file
			return
		fi
		say "${file##*/} in the cache does not match apt's SHA256; downloading it again"
		rm -f "$file"
	fi
	local partial="$CACHE/.partial"
	rm -rf "$partial" && mkdir -p "$partial"
	local sandbox=()
	[ "$(id -u)" -ne 0 ] || sandbox=(-o APT::Sandbox::User=root)
	say "downloading $pkg $version"
	if ! (cd "$partial" && apt-get download -q "${sandbox[@]}" "$pkg=$version" >&2); then
		apt_update "apt-get download $pkg failed" || die "apt-get download $pkg=$version failed"
		version=$(candidate "$pkg")
		file="$CACHE/${pkg}_${version//:/%3a}_$ARCH.deb"
		(cd "$partial" && apt-get download -q "${sandbox[@]}" "$pkg=$version" >&2) ||
			die "apt-get download $pkg=$version failed after apt-get update"
	fi
	mv "$partial"/*.deb "$file"
	rm -rf "$partial"
	# Older versions of the package are not used again.
	find "$CACHE" -maxdepth 1 -name "${pkg}_*.deb" ! -path "$file" -delete
	FETCHED=$file
}

fetch busybox-static
BUSYBOX_DEB=$FETCHED
fetch "$KERNEL_PACKAGE"
KERNEL_DEB=$FETCHED
BUSYBOX_VERSION=$(dpkg-deb -f "$BUSYBOX_DEB" Version)
KERNEL_PACKAGE_VERSION=$(dpkg-deb -f "$KERNEL_DEB" Version)

# --- extract ---------------------------------------------------------------------------------

say "extracting ${KERNEL_DEB##*/} and ${BUSYBOX_DEB##*/}"
dpkg-deb -x "$BUSYBOX_DEB" "$WORK/busybox"
dpkg-deb -x "$KERNEL_DEB" "$WORK/kernel"

vmlinuz=$(find "$WORK/kernel/boot" -maxdepth 1 -name 'vmlinuz-*' | sort | head -n1)
[ -n "$vmlinuz" ] || die "$KERNEL_PACKAGE has no /boot/vmlinuz-*"
KERNEL_VERSION=${vmlinuz##*/vmlinuz-}
MODULES_SRC=
for d in "$WORK/kernel/lib/modules/$KERNEL_VERSION" "$WORK/kernel/usr/lib/modules/$KERNEL_VERSION"; do
	[ -d "$d" ] && MODULES_SRC=$d
done
[ -n "$MODULES_SRC" ] || die "$KERNEL_PACKAGE has no modules for $KERNEL_VERSION"
BUSYBOX_BIN=$WORK/busybox/bin/busybox
[ -x "$BUSYBOX_BIN" ] || die "busybox-static has no /bin/busybox"

if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
	SOURCE_DATE_EPOCH=$(find "$WORK/kernel" "$WORK/busybox" -type f -printf '%T@\n' | sort -n | tail -n1 | cut -d. -f1)
fi
[[ "$SOURCE_DATE_EPOCH" =~ ^[0-9]+$ ]] || die "SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH is not a number of seconds"
export SOURCE_DATE_EPOCH

# --- the root file system --------------------------------------------------------------------

ROOT=$WORK/root
umask 022
mkdir -p "$ROOT"/{usr/bin,usr/lib,usr/share/udhcpc,etc,proc,sys,run,tmp,root}
chmod 1777 "$ROOT/tmp"
chmod 0700 "$ROOT/root"
ln -s usr/bin "$ROOT/bin"
ln -s usr/bin "$ROOT/sbin"
ln -s bin "$ROOT/usr/sbin"
ln -s usr/lib "$ROOT/lib"

install -m 0755 "$BUSYBOX_BIN" "$ROOT/usr/bin/busybox"
applets=$("$BUSYBOX_BIN" --list) || die "cannot run the packaged busybox to list its applets (not an $ARCH machine?)"
for applet in $applets; do
	case $applet in busybox | init | linuxrc | \[ | \[\[) ;; *) ln -s busybox "$ROOT/usr/bin/$applet" ;; esac
done
ln -s busybox "$ROOT/usr/bin/["
ln -s busybox "$ROOT/usr/bin/[["

install -m 0755 "$IMAGE_SRC/init" "$ROOT/init"
install -m 0755 "$IMAGE_SRC/udhcpc.script" "$ROOT/usr/share/udhcpc/default.script"
install -m 0755 "$AGENT_SCRIPT" "$ROOT/usr/bin/metalplane-agent"
"$BUSYBOX_BIN" sh -n "$ROOT/init" || die "agent/image/init has a syntax error (busybox sh)"
"$BUSYBOX_BIN" sh -n "$ROOT/usr/bin/metalplane-agent" || die "the agent has a syntax error (busybox sh)"

printf 'root:x:0:0:root:/root:/bin/sh\n' >"$ROOT/etc/passwd"
printf 'root:x:0:\ntty:x:5:\n' >"$ROOT/etc/group"
printf 'metalplane-registration\n' >"$ROOT/etc/hostname"
: >"$ROOT/etc/resolv.conf"
{
	echo "# The packages this registration image was built from."
	printf "KERNEL_PACKAGE='%s'\nKERNEL_PACKAGE_VERSION='%s'\nKERNEL_VERSION='%s'\nBUSYBOX_VERSION='%s'\nSOURCE_DATE_EPOCH='%s'\n" \
		"$KERNEL_PACKAGE" "$KERNEL_PACKAGE_VERSION" "$KERNEL_VERSION" "$BUSYBOX_VERSION" "$SOURCE_DATE_EPOCH"
} >"$ROOT/etc/metalplane-release"

# --- kernel modules --------------------------------------------------------------------------
# Resolved here rather than with depmod (kmod need not be installed): every module's modinfo
# strings are read from its .modinfo section, which is NUL-separated `key=value` text.

MODULES_DST=$ROOT/usr/lib/modules/$KERNEL_VERSION
mkdir -p "$MODULES_DST"
declare -A module_path=() builtin=() wanted=() deps=()
while IFS= read -r rel; do
	base=${rel##*/}
	base=${base%%.ko*}
	module_path[${base//-/_}]=$rel
done < <(cd "$MODULES_SRC" && find kernel -name '*.ko' -o -name '*.ko.xz' -o -name '*.ko.zst' -o -name '*.ko.gz' | sort)
if [ -f "$MODULES_SRC/modules.builtin" ]; then
	while IFS= read -r rel; do
		base=${rel##*/}
		base=${base%.ko}
		builtin[${base//-/_}]=1
	done <"$MODULES_SRC/modules.builtin"
fi

# copy_module NAME: puts the module into the image uncompressed (busybox insmod reads plain .ko),
# prints its path relative to the modules directory.
copy_module() {
	local rel=${module_path[$1]} plain
	plain=${rel%.xz}
	plain=${plain%.zst}
	plain=${plain%.gz}
	mkdir -p "$MODULES_DST/${plain%/*}"
	case $rel in
	*.ko) cp "$MODULES_SRC/$rel" "$MODULES_DST/$plain" ;;
	*.xz) command -v xz >/dev/null || die "xz is needed for $rel (apt-get install xz-utils)"
		xz -dc "$MODULES_SRC/$rel" >"$MODULES_DST/$plain" ;;
	*.zst) command -v zstd >/dev/null || die "zstd is needed for $rel (apt-get install zstd)"
		zstd -q -dc "$MODULES_SRC/$rel" >"$MODULES_DST/$plain" ;;
	*.gz) gzip -dc "$MODULES_SRC/$rel" >"$MODULES_DST/$plain" ;;
	esac
	chmod 0644 "$MODULES_DST/$plain"
	echo "$plain"
}

# mod_info FILE KEY: the values of KEY, one a line.
mod_info() {
	tr '\0' '\n' <"$1" | sed -n "s/^$2=//p"
}

declare -A image_path=()
missing=()
skipped_builtin=()
queue=()
while read -r name _; do
	[ -n "$name" ] && queue+=("${name//-/_}")
done < <(sed -e 's/#.*//' "$IMAGE_SRC/modules.txt")
while [ ${#queue[@]} -gt 0 ]; do
	name=${queue[0]}
	queue=("${queue[@]:1}")
	[ -z "${wanted[$name]:-}" ] || continue
	wanted[$name]=1
	if [ -z "${module_path[$name]:-}" ]; then
		if [ -n "${builtin[$name]:-}" ]; then skipped_builtin+=("$name"); else missing+=("$name"); fi
		continue
	fi
	rel=$(copy_module "$name")
	image_path[$name]=$rel
	list=()
	# Hard dependencies, then `softdep=pre:` ones (busybox modprobe has no softdeps, so they are
	# loaded as dependencies).
	for d in $(mod_info "$MODULES_DST/$rel" depends | tr ',' ' ') \
		$(mod_info "$MODULES_DST/$rel" softdep | sed -n 's/.*pre:\(.*\)/\1/p' | sed 's/post:.*//'); do
		d=${d//-/_}
		[ -n "${module_path[$d]:-}" ] || continue
		list+=("$d")
		queue+=("$d")
	done
	deps[$name]="${list[*]:-}"
done
[ ${#missing[@]} -eq 0 ] || say "warning: not in $KERNEL_PACKAGE, left out: ${missing[*]}"
[ ${#skipped_builtin[@]} -eq 0 ] || say "built into the kernel: ${skipped_builtin[*]}"

# load_order NAME: NAME's dependencies, each after its own, then NAME (depth first, post-order).
load_order() {
	local name=$1 d
	[ -z "${visiting[$name]:-}" ] || return 0
	visiting[$name]=1
	for d in ${deps[$name]}; do load_order "$d"; done
	order+=("$name")
}
# modules.dep as kmod writes it: `module: deps`, the deps loaded from last to first.
: >"$MODULES_DST/modules.dep"
: >"$MODULES_DST/modules.alias"
for name in $(printf '%s\n' "${!image_path[@]}" | sort); do
	declare -A visiting=()
	order=()
	load_order "$name"
	line="${image_path[$name]}:"
	for ((i = ${#order[@]} - 2; i >= 0; i--)); do line+=" ${image_path[${order[$i]}]}"; done
	echo "$line" >>"$MODULES_DST/modules.dep"
	mod_info "$MODULES_DST/${image_path[$name]}" alias | sed "s/\$/ $name/; s/^/alias /" >>"$MODULES_DST/modules.alias"
	unset visiting
done
sort -o "$MODULES_DST/modules.dep" "$MODULES_DST/modules.dep"
sort -u -o "$MODULES_DST/modules.alias" "$MODULES_DST/modules.alias"
[ -f "$MODULES_SRC/modules.builtin" ] && cp "$MODULES_SRC/modules.builtin" "$MODULES_DST/modules.builtin"
if [ -f "$MODULES_SRC/modules.order" ]; then
	grep -x -F -f <(printf '%s\n' "${image_path[@]}") "$MODULES_SRC/modules.order" >"$MODULES_DST/modules.order" || true
fi
MODULES=$(printf '%s\n' "${!image_path[@]}" | sort)
say "${#image_path[@]} modules: ${MODULES//$'\n'/ }"

# --- archive ---------------------------------------------------------------------------------

find "$ROOT" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +

# newc_entry NAME MODE INO RDEVMAJOR RDEVMINOR: one header-only newc entry (a directory or a
# device node), padded to 4 bytes. Used for /dev/console, which cpio can only copy from a real
# node (mknod needs root): the kernel opens it for /init before anything is mounted.
newc_entry() {
	local name=$1 mode=$2 ino=$3 major=$4 minor=$5 nlink=1 namesize header pad
	[ $((mode & 0170000)) -ne $((0040000)) ] || nlink=2
	namesize=$((${#name} + 1))
	header=$(printf '070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X' \
		"$ino" "$mode" 0 0 "$nlink" "$SOURCE_DATE_EPOCH" 0 0 0 "$major" "$minor" "$namesize" 0)
	printf '%s%s\0' "$header" "$name"
	pad=$(((4 - (110 + namesize) % 4) % 4))
	head -c "$pad" /dev/zero
}

STAGE=$WORK/out
mkdir -p "$STAGE"
{
	newc_entry dev $((0040755)) 1 0 0
	newc_entry dev/console $((0020600)) 2 5 1
	newc_entry 'TRAILER!!!' 0 0 0 0
	(cd "$ROOT" && find . -mindepth 1 -printf '%P\n' | sort | cpio --quiet -o -H newc --reproducible -R 0:0)
} | gzip -n -9 >"$STAGE/initrd.img"
cp "$vmlinuz" "$STAGE/vmlinuz"
chmod 0644 "$STAGE/vmlinuz" "$STAGE/initrd.img"

sha_vmlinuz=$(sha256sum "$STAGE/vmlinuz" | cut -d' ' -f1)
sha_initrd=$(sha256sum "$STAGE/initrd.img" | cut -d' ' -f1)
size_vmlinuz=$(stat -c %s "$STAGE/vmlinuz")
size_initrd=$(stat -c %s "$STAGE/initrd.img")
built_at=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)
json_list() {
	local first=1 item
	printf '['
	for item in "$@"; do
		[ $first -eq 1 ] || printf ', '
		first=0
		printf '"%s"' "$item"
	done
	printf ']'
}
# shellcheck disable=SC2086 # module names
cat >"$STAGE/manifest.json" <<EOF
{
  "format": "metalplane-registration-image/v1",
  "arch": "$ARCH",
  "kernelPackage": "$KERNEL_PACKAGE",
  "kernelPackageVersion": "$KERNEL_PACKAGE_VERSION",
  "kernelVersion": "$KERNEL_VERSION",
  "busyboxVersion": "$BUSYBOX_VERSION",
  "modules": $(json_list $MODULES),
  "sourceDateEpoch": $SOURCE_DATE_EPOCH,
  "builtAt": "$built_at",
  "files": {
    "vmlinuz": { "size": $size_vmlinuz, "sha256": "$sha_vmlinuz" },
    "initrd.img": { "size": $size_initrd, "sha256": "$sha_initrd" }
  },
  "sha256": {
    "vmlinuz": "$sha_vmlinuz",
    "initrd.img": "$sha_initrd"
  }
}
EOF
touch -d "@$SOURCE_DATE_EPOCH" "$STAGE"/*

# Replace the previous output in one step, so a reader never sees half of each.
mkdir -p "$(dirname "$OUT")"
rm -rf "$OUT.old"
[ ! -e "$OUT" ] || mv "$OUT" "$OUT.old"
mv "$STAGE" "$OUT"
rm -rf "$OUT.old"

elapsed=$(echo "$started $(date +%s.%N)" | awk '{ printf "%.1f", $2 - $1 }')
say "kernel $KERNEL_PACKAGE $KERNEL_PACKAGE_VERSION, busybox $BUSYBOX_VERSION, SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH"
say "$OUT/vmlinuz     $size_vmlinuz bytes  sha256 $sha_vmlinuz"
say "$OUT/initrd.img  $size_initrd bytes  sha256 $sha_initrd"
say "done in ${elapsed}s"
