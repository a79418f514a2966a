# Build, install and package gatherd (docs/systemd.md, "Install").
#
#   make                 release binaries with the Swift runtime linked in
#   make install         binaries (stripped), unit, tmpfiles entry, journal
#                        catalog, manual pages, shell completions; then, on
#                        the running system: systemctl daemon-reload,
#                        systemd-tmpfiles --create, journalctl --update-catalog
#   make uninstall       removes what install installed
#   make deb             gatherd_VERSION_ARCH.deb, staged by the same install
#
# PREFIX is /usr/local, where a program built from source belongs; systemd,
# systemd-tmpfiles, journalctl --update-catalog, man and the shells all look
# there too. The Debian package installs with PREFIX=/usr. DESTDIR stages the
# files under a directory and leaves the running system alone.
PREFIX ?= /usr/local
DESTDIR ?=
BINDIR ?= $(PREFIX)/bin
DATADIR ?= $(PREFIX)/share
MANDIR ?= $(DATADIR)/man
DOCDIR ?= $(DATADIR)/doc/gatherd
TMPFILESDIR ?= $(PREFIX)/lib/tmpfiles.d
CATALOGDIR ?= $(PREFIX)/lib/systemd/catalog
BASHCOMPDIR ?= $(DATADIR)/bash-completion/completions
FISHCOMPDIR ?= $(DATADIR)/fish/vendor_completions.d
ifeq ($(PREFIX),/usr)
# Debian 12's systemd packages keep units in /lib (lintian wants them there),
# and zsh's fpath has a vendor directory for packaged completions.
UNITDIR ?= /lib/systemd/system
ZSHCOMPDIR ?= $(DATADIR)/zsh/vendor-completions
else
UNITDIR ?= $(PREFIX)/lib/systemd/system
ZSHCOMPDIR ?= $(DATADIR)/zsh/site-functions
endif

SWIFT ?= swift
STRIP ?= strip
# Its own build folder: switching --static-swift-stdlib and the linker flags
# on and off in one folder would relink everything each time.
SCRATCH ?= .build-static
# --static-swift-stdlib links the Swift runtime and Foundation in, but names
# libstdc++ and libgcc_s as shared libraries (the runtime is C++). The
# link-flags script links those two in as well, so the binaries need only the
# C library and libsystemd.
LINKFLAGS = $(shell scripts/static-link-flags.sh $(SCRATCH))
# Relocations resolved at start, so the GOT can be read-only (full RELRO), as
# Debian builds its packages.
LINKFLAGS += -Xlinker -z -Xlinker now
SWIFTBUILD = $(SWIFT) build -c release --static-swift-stdlib --scratch-path $(SCRATCH) $(LINKFLAGS)
BUILT = $(SCRATCH)/release

INSTALL ?= install

.PHONY: all build install install-files uninstall deb

all: build

build:
	$(SWIFTBUILD) --product gatherd
	$(SWIFTBUILD) --product gatherctl

# Files first (install-files is all `make deb` stages), then the running system.
install: install-files
ifeq ($(DESTDIR),)
	@if [ -d /run/systemd/system ]; then \
	  echo "systemctl daemon-reload"; systemctl daemon-reload; \
	else \
	  echo "install: systemd is not running here: skipped systemctl daemon-reload"; \
	fi
	systemd-tmpfiles --create gatherd.conf
	journalctl --update-catalog
	@echo "install: done. Start it with: systemctl enable --now gatherd"
endif

install-files: build
	$(INSTALL) -d $(DESTDIR)$(BINDIR)
	$(INSTALL) -m 0755 $(BUILT)/gatherd $(BUILT)/gatherctl $(DESTDIR)$(BINDIR)/
# As dh_strip does: symbols and the toolchain's notes go, the code stays.
	$(STRIP) --strip-unneeded --remove-section=.comment --remove-section=.note \
	  $(DESTDIR)$(BINDIR)/gatherd $(DESTDIR)$(BINDIR)/gatherctl
# The unit names the binary by its path: the one this install puts it at.
	$(INSTALL) -d $(DESTDIR)$(UNITDIR)
	sed 's|^ExecStart=/usr/local/bin/gatherd |ExecStart=$(BINDIR)/gatherd |' systemd/gatherd.service \
	  > $(DESTDIR)$(UNITDIR)/gatherd.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/gatherd.service
	$(INSTALL) -D -m 0644 systemd/gatherd.tmpfiles $(DESTDIR)$(TMPFILESDIR)/gatherd.conf
	$(INSTALL) -D -m 0644 systemd/gatherd.catalog $(DESTDIR)$(CATALOGDIR)/gatherd.catalog
# Every manual page in docs/, by its section, compressed as Debian does.
	@set -e; for page in docs/*.[158]; do \
	  [ -f "$$page" ] || continue; \
	  section=$${page##*.}; \
	  echo "manual: $$page -> $(MANDIR)/man$$section/"; \
	  $(INSTALL) -d $(DESTDIR)$(MANDIR)/man$$section; \
	  gzip -9n -c "$$page" > $(DESTDIR)$(MANDIR)/man$$section/$${page##*/}.gz; \
	  chmod 0644 $(DESTDIR)$(MANDIR)/man$$section/$${page##*/}.gz; \
	done
# Completions of both commands, where they can write them (swift-argument-
# parser's --generate-completion-script); an older build has none to install.
# bash-completion sources its files: a #! line has no place there (lintian).
	@set -e; for cmd in gatherctl gatherd; do \
	  bin=$(BUILT)/$$cmd; \
	  if ! $$bin --generate-completion-script bash >/dev/null 2>&1; then \
	    echo "install: this $$cmd cannot write completions: none installed"; continue; \
	  fi; \
	  $(INSTALL) -d $(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR) $(DESTDIR)$(FISHCOMPDIR); \
	  $$bin --generate-completion-script bash | sed '1{/^#!/d}' > $(DESTDIR)$(BASHCOMPDIR)/$$cmd; \
	  $$bin --generate-completion-script zsh > $(DESTDIR)$(ZSHCOMPDIR)/_$$cmd; \
	  $$bin --generate-completion-script fish > $(DESTDIR)$(FISHCOMPDIR)/$$cmd.fish; \
	  chmod 0644 $(DESTDIR)$(BASHCOMPDIR)/$$cmd $(DESTDIR)$(ZSHCOMPDIR)/_$$cmd $(DESTDIR)$(FISHCOMPDIR)/$$cmd.fish; \
	  echo "completions of $$cmd: bash, zsh, fish"; \
	done
# The hardened drop-in is an example for sites whose jobs need no privileges, not enabled.
	$(INSTALL) -D -m 0644 systemd/gatherd.service.d/hardened.conf $(DESTDIR)$(DOCDIR)/examples/hardened.conf

uninstall:
ifeq ($(DESTDIR),)
	@if [ -d /run/systemd/system ]; then \
	  echo "systemctl disable --now gatherd"; systemctl disable --now gatherd.service 2>/dev/null || true; \
	fi
endif
	rm -f $(DESTDIR)$(BINDIR)/gatherd $(DESTDIR)$(BINDIR)/gatherctl
	rm -f $(DESTDIR)$(UNITDIR)/gatherd.service $(DESTDIR)$(TMPFILESDIR)/gatherd.conf \
	  $(DESTDIR)$(CATALOGDIR)/gatherd.catalog
	rm -f $(DESTDIR)$(MANDIR)/man1/gatherctl.1.gz $(DESTDIR)$(MANDIR)/man5/gatherd.job.5.gz \
	  $(DESTDIR)$(MANDIR)/man8/gatherd.8.gz
	@set -e; for page in docs/*.[158]; do \
	  [ -f "$$page" ] && rm -f $(DESTDIR)$(MANDIR)/man$${page##*.}/$${page##*/}.gz; \
	done; true
	rm -f $(DESTDIR)$(BASHCOMPDIR)/gatherctl $(DESTDIR)$(ZSHCOMPDIR)/_gatherctl \
	  $(DESTDIR)$(FISHCOMPDIR)/gatherctl.fish $(DESTDIR)$(BASHCOMPDIR)/gatherd \
	  $(DESTDIR)$(ZSHCOMPDIR)/_gatherd $(DESTDIR)$(FISHCOMPDIR)/gatherd.fish
	rm -f $(DESTDIR)$(DOCDIR)/examples/hardened.conf
	-rmdir $(DESTDIR)$(DOCDIR)/examples $(DESTDIR)$(DOCDIR) 2>/dev/null
ifeq ($(DESTDIR),)
	@if [ -d /run/systemd/system ]; then \
	  echo "systemctl daemon-reload"; systemctl daemon-reload; \
	else \
	  echo "uninstall: systemd is not running here: skipped systemctl daemon-reload"; \
	fi
	journalctl --update-catalog
	@echo "uninstall: the spool (/var/spool/gatherd) is left as it is"
endif

# The Debian package: install-files with PREFIX=/usr into a staging folder,
# then control file, maintainer scripts and dpkg-deb (scripts/build-deb.sh).
deb: build
	scripts/build-deb.sh
