# reflinkfs top-level Makefile. See README.md.
#
# Variables:
#   KVER=<version>   build the module against /lib/modules/<version>/build
#   KDIR=<path>      build the module against this kernel tree (wins over KVER)
#   KVERS="v1 v2"    kernels for modules-all/check/sparse/w1 (default: every
#                    installed kernel with headers and a /boot/vmlinuz)
#   FSTYP=xfs|btrfs  make check/check-kselftest: the suite as a conformance
#                    suite on XFS (reflink=1) or btrfs instead of reflinkfs:
#                    the reflinkfs-only cases skip (see
#                    Documentation/filesystems/reflinkfs-conformance.rst)
#   TESTS="a b"      make check-kselftest: only these programs (-t reflinkfs:a)
#   KERNEL=debug     make check: run the suite on the debug kernel of
#                    make debug-kernel (KASAN, lockdep, kmemleak, UBSAN)
#   DESTDIR, PREFIX  make install: staging root and prefix of the tools
#                    (default /usr/local); the module goes to
#                    DESTDIR/lib/modules/KVER/updates/ (KVER default: the
#                    running kernel if it has headers, else the newest)

TOP := $(CURDIR)
BUILD := $(TOP)/build

# Every installed kernel that has both headers and an image, oldest first
# (scripts/kernels is the one place that knows).
KVERS ?= $(shell $(TOP)/scripts/kernels)
KVERS := $(KVERS)

# KVER=debug is the debug kernel tree built by scripts/debug-kernel.
KVER_KDIR = $(if $(filter debug,$(KVER)),$(BUILD)/debug-kernel/linux,/lib/modules/$(KVER)/build)

ifneq ($(KVER),)
KDIR ?= $(KVER_KDIR)
endif
KDIR ?= $(shell if [ -e "/lib/modules/$$(uname -r)/build/Makefile" ]; then \
		echo "/lib/modules/$$(uname -r)/build"; \
	else \
		ls -d /usr/src/linux-headers-*-amd64 2>/dev/null | sort -V | tail -n 1; \
	fi)

export RLFS_TOP := $(TOP)
export RLFS_KSELFTEST_DIR := $(BUILD)/ksrc/tools/testing/selftests

# Build artifacts never copied into the per-kernel source copies.
TAR_EXCLUDES := --exclude='*.o' --exclude='*.ko' --exclude='*.mod' \
	--exclude='*.mod.c' --exclude='*.cmd' --exclude='.*.cmd' \
	--exclude='*.order' --exclude='Module.symvers' --exclude='*.a' \
	--exclude='.tmp_versions' --exclude='*.dwo' --exclude='.cache.mk'

# $(call copy_src,DESTDIR): mirror kernel/ and include/ into DESTDIR
# (mtimes preserved, so kbuild only rebuilds what changed).
define copy_src
	mkdir -p $(1)
	tar -C $(TOP) $(TAR_EXCLUDES) -cf - kernel include | tar -C $(1) -xf -
endef

.PHONY: check-kselftest
.PHONY: all modules modules-all module-kver userspace selftests ksrc check \
	debug-kernel demo sparse checkpatch w1 clean bench help install dkms-src

all: modules userspace selftests

help:
	@echo "targets: all modules modules-all userspace selftests check check-kselftest debug-kernel demo sparse checkpatch w1 bench install dkms-src clean"

# In-tree build against one kernel (KDIR or KVER, default: running/newest).
modules:
	@[ -n "$(KDIR)" ] && [ -e "$(KDIR)/Makefile" ] || \
		{ echo "modules: no kernel tree (KDIR='$(KDIR)'); install headers or pass KDIR=/KVER=" >&2; exit 1; }
	@[ -e kernel/Kbuild ] || [ -e kernel/Makefile ] || { echo "modules: kernel/Kbuild missing" >&2; exit 1; }
	$(MAKE) -C $(KDIR) M=$(TOP)/kernel modules

# Out-of-tree copy per kernel: build/KVER/src/{kernel,include} -> build/KVER/reflinkfs.ko
module-kver:
	@[ -n "$(KVER)" ] || { echo "module-kver: KVER= required" >&2; exit 1; }
	@[ -e $(KVER_KDIR)/Makefile ] || { echo "module-kver: no headers for $(KVER)" >&2; exit 1; }
	@[ -e kernel/Kbuild ] || [ -e kernel/Makefile ] || { echo "module-kver: kernel/Kbuild missing" >&2; exit 1; }
	@$(call copy_src,$(BUILD)/$(KVER)/src)
	$(MAKE) -C $(KVER_KDIR) M=$(BUILD)/$(KVER)/src/kernel modules
	cp -f $(BUILD)/$(KVER)/src/kernel/reflinkfs.ko $(BUILD)/$(KVER)/reflinkfs.ko

modules-all:
	@[ -n "$(strip $(KVERS))" ] || { echo "modules-all: no kernels with headers found" >&2; exit 1; }
	@set -e; for v in $(KVERS); do \
		echo "== module for $$v"; \
		$(MAKE) --no-print-directory module-kver KVER=$$v; \
	done

userspace:
	$(MAKE) -C userspace

# The project version lives in dkms.conf (PACKAGE_VERSION).
VERSION := $(shell sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' $(TOP)/dkms.conf)
INSTALL_KVER = $(or $(KVER),$(shell v=$$(uname -r); \
	if [ -e /lib/modules/$$v/build/Makefile ]; then echo $$v; \
	else $(TOP)/scripts/kernels --newest; fi))

# The module for one kernel, the tools and their man pages.  depmod runs
# only for a real install (no DESTDIR): a staged tree is the packager's.
install: userspace
	@k="$(INSTALL_KVER)"; [ -n "$$k" ] || { echo "install: no kernel with headers" >&2; exit 1; }; \
	$(MAKE) --no-print-directory module-kver KVER=$$k && \
	install -d "$(DESTDIR)/lib/modules/$$k/updates" && \
	install -m 0644 $(BUILD)/$$k/reflinkfs.ko "$(DESTDIR)/lib/modules/$$k/updates/" && \
	if [ -z "$(DESTDIR)" ]; then depmod -a "$$k"; fi
	$(MAKE) -C userspace install DESTDIR="$(DESTDIR)" $(if $(PREFIX),PREFIX="$(PREFIX)")

# The DKMS source tree: DESTDIR/usr/src/reflinkfs-VERSION, then
# "dkms install reflinkfs/VERSION" builds and installs for a kernel.
DKMS_SRC = $(DESTDIR)/usr/src/reflinkfs-$(VERSION)
dkms-src:
	@[ -n "$(VERSION)" ] || { echo "dkms-src: no PACKAGE_VERSION in dkms.conf" >&2; exit 1; }
	rm -rf "$(DKMS_SRC)"
	$(call copy_src,$(DKMS_SRC))
	install -m 0644 dkms.conf "$(DKMS_SRC)/"

ksrc:
	@scripts/extract-ksrc

selftests: ksrc
	$(MAKE) -C selftests

# The debug kernel (build/debug-kernel/, built once; see scripts/debug-kernel).
debug-kernel:
	@scripts/debug-kernel

check:
	@scripts/install-deps --check >/dev/null 2>&1 || scripts/install-deps
ifeq ($(KERNEL),debug)
	@scripts/debug-kernel
	@KVERS=debug RLFS_FSTYP="$(FSTYP)" scripts/check
else
	@KVERS="$(KVERS)" RLFS_FSTYP="$(FSTYP)" scripts/check
endif

demo:
	@scripts/install-deps --check >/dev/null 2>&1 || scripts/install-deps
	@scripts/demo

# sparse on every kernel; fails on any sparse diagnostic about our sources.
sparse:
	@set -e; fail=0; for v in $(KVERS); do \
		echo "== sparse $$v"; \
		$(MAKE) --no-print-directory -s module-kver KVER=$$v >/dev/null; \
		log=$(BUILD)/$$v/sparse.log; \
		$(MAKE) --no-print-directory -C /lib/modules/$$v/build \
			M=$(BUILD)/$$v/src/kernel C=2 CHECK=sparse modules >$$log 2>&1 || \
			{ cat $$log; echo "sparse: build failed for $$v"; fail=1; continue; }; \
		if grep -E '(warning|error):' $$log | grep -F "$(BUILD)/$$v/src/"; then \
			echo "sparse: warnings for $$v (full log: $$log)"; fail=1; \
		else echo "sparse: clean"; fi; \
	done; exit $$fail

CHECKPATCH_FILES = $(filter-out %.mod.c,$(wildcard kernel/*.c kernel/*.h kernel/libreflinkfs/*.c kernel/libreflinkfs/*.h include/uapi/linux/*.h))
# The selftests installed kselftest-style, run by the kernel's
# run_kselftest.sh in the VM (KVER default: the oldest kernel; FSTYP too).
check-kselftest:
	@scripts/install-deps --check >/dev/null 2>&1 || scripts/install-deps
	@KVER="$(or $(KVER),$(shell scripts/kernels --oldest))" RLFS_FSTYP="$(FSTYP)" \
		scripts/check-kselftest $(TESTS)

checkpatch: ksrc
	@[ -n "$(strip $(CHECKPATCH_FILES))" ] || { echo "checkpatch: no files"; exit 0; }
	$(BUILD)/ksrc/scripts/checkpatch.pl --no-tree -f --terse \
		$(filter-out kernel/compat.h,$(CHECKPATCH_FILES))
	@# compat.h is the one file allowed to test LINUX_VERSION_CODE.
	$(BUILD)/ksrc/scripts/checkpatch.pl --no-tree -f --terse \
		--ignore LINUX_VERSION_CODE,CONSTANT_COMPARISON kernel/compat.h

# W=1 build on every kernel in a separate copy; fails on any warning.
w1:
	@set -e; fail=0; for v in $(KVERS); do \
		echo "== W=1 $$v"; \
		d=$(BUILD)/$$v/w1; \
		[ -e kernel/Kbuild ] || [ -e kernel/Makefile ] || { echo "w1: kernel/Kbuild missing"; exit 1; }; \
		mkdir -p $$d && tar -C $(TOP) $(TAR_EXCLUDES) -cf - kernel include | tar -C $$d -xf -; \
		$(MAKE) --no-print-directory -s -C /lib/modules/$$v/build M=$$d/kernel clean >/dev/null 2>&1 || true; \
		log=$(BUILD)/$$v/w1.log; \
		if ! $(MAKE) --no-print-directory -C /lib/modules/$$v/build M=$$d/kernel W=1 modules >$$log 2>&1; then \
			cat $$log; echo "w1: build failed for $$v"; fail=1; \
		elif grep -E 'warning:' $$log; then \
			echo "w1: warnings for $$v (full log: $$log)"; fail=1; \
		else echo "w1: clean"; fi; \
	done; exit $$fail

bench:
	@if [ -x scripts/bench ]; then scripts/bench; \
	else echo "bench: scripts/bench is not there yet"; fi

clean:
	@if [ -e userspace/Makefile ]; then $(MAKE) -C userspace clean; fi
	@if [ -e selftests/Makefile ]; then $(MAKE) -C selftests clean; fi
	@if [ -e "$(KDIR)/Makefile" ] && { [ -e kernel/Kbuild ] || [ -e kernel/Makefile ]; }; then \
		$(MAKE) -C $(KDIR) M=$(TOP)/kernel clean; fi
	rm -rf $(BUILD)/ksrc $(BUILD)/vm $(BUILD)/check $(BUILD)/ci.log $(BUILD)/debug
	@for v in $(KVERS); do rm -rf "$(BUILD)/$$v"; done
