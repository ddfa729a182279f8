# What `cmake --install` puts where, and the Debian package CPack makes of it
# (scripts/package). Only the daemon is installed: sluice-devbroker, sluice-devclient and the
# tests are development tools.
#
# With --prefix /usr (the package):
#   /usr/bin/sluice
#   /etc/sluice/sluice.yaml               config/sluice.yaml with absolute paths (conffile)
#   /etc/sluice/blocked_senders.txt       operators edit it, so it is a conffile in /etc
#   /usr/share/sluice/schemas/*.json      the JSON Schemas the config names
#   /lib/systemd/system/sluice.service    systemd.pc's systemdsystemunitdir on Debian 12
#   /etc/default/sluice                   the unit's EnvironmentFile, mode 0600 (conffile)
#   /usr/lib/sysusers.d/sluice.conf       the system user sluice
#   /usr/lib/tmpfiles.d/sluice.conf       /var/lib/sluice, its state directory
# Components, for installing a part (docker/Dockerfile): daemon, config, systemd.

include(GNUInstallDirs)

# `make install` and cpack install what has been built and build nothing first: the default
# target includes the dev tools and the whole test suite, minutes of compiling for files
# that are never installed. Build the target sluice before installing (scripts/package does).
set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY TRUE)

set(SLUICE_SYSTEMD_UNIT_DIR "" CACHE STRING
  "Where sluice.service goes (absolute, or relative to the prefix); empty: systemd's own directory for prefix /usr, <prefix>/lib/systemd/system otherwise")
pkg_get_variable(SLUICE_SYSTEM_UNIT_DIR systemd systemdsystemunitdir)
if(NOT SLUICE_SYSTEM_UNIT_DIR)
  # systemd.pc comes with the package systemd, which a build host may lack.
  set(SLUICE_SYSTEM_UNIT_DIR /lib/systemd/system)
endif()

install(TARGETS sluice RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT daemon)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/config/schemas/ DESTINATION ${CMAKE_INSTALL_DATADIR}/sluice/schemas
  COMPONENT config FILES_MATCHING PATTERN "*.json")

# The files whose contents or places depend on the install-time prefix (cmake/InstallFiles.cmake).
foreach(part config systemd)
  install(CODE "
    set(SLUICE_PART ${part})
    set(SLUICE_SOURCE_DIR \"${PROJECT_SOURCE_DIR}\")
    set(SLUICE_STAGING_DIR \"${PROJECT_BINARY_DIR}/install-staging\")
    set(SLUICE_BINDIR \"${CMAKE_INSTALL_BINDIR}\")
    set(SLUICE_DATADIR \"${CMAKE_INSTALL_DATADIR}\")
    set(SLUICE_SYSCONFDIR \"${CMAKE_INSTALL_SYSCONFDIR}\")
    set(SLUICE_SYSTEMD_UNIT_DIR \"${SLUICE_SYSTEMD_UNIT_DIR}\")
    set(SLUICE_SYSTEM_UNIT_DIR \"${SLUICE_SYSTEM_UNIT_DIR}\")
    include(\"${PROJECT_SOURCE_DIR}/cmake/InstallFiles.cmake\")
  " COMPONENT ${part})
endforeach()

# The Debian package --------------------------------------------------------------------------

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME sluice)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Kafka reliability sidecar")
set(CPACK_PACKAGE_DESCRIPTION
  "sluice consumes inbound Kafka topics, validates events against JSON Schemas, filters\nblocked senders and spam, drops duplicates, forwards the rest to Kafka topics or HTTP\nendpoints and dead-letters bad data, with retry tiers and circuit breakers.")
set(SLUICE_PACKAGE_MAINTAINER "sluice maintainers <sluice@localhost>" CACHE STRING "The Maintainer field of the .deb")
set(CPACK_PACKAGE_CONTACT "${SLUICE_PACKAGE_MAINTAINER}")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# The package installs into /usr and /etc whatever the tree's configured prefix: CPack runs
# the install rules with DESTDIR set and this prefix, so cmake/InstallFiles.cmake sees /usr.
set(CPACK_SET_DESTDIR ON)
set(CPACK_INSTALL_PREFIX /usr)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES TRUE)

# Depends: the packages of the shared libraries the binary loads. docker/runtime-packages.txt
# is that list for the image, and tests/integration/deployment_test.py checks it against
# `ldd sluice`, so the image and the package cannot drift apart: libc6, libstdc++6,
# librdkafka1, libhiredis0.14, libsqlite3-0, libyaml-cpp0.7, libssl3, libsystemd0,
# libprometheus-cpp-core1.0, libjemalloc2 (only with SLUICE_ALLOCATOR=jemalloc) and
# ca-certificates (the CA bundle for TLS to brokers and https:// routes).
file(STRINGS ${PROJECT_SOURCE_DIR}/docker/runtime-packages.txt sluice_runtime_packages REGEX "^[a-z0-9]")
if(NOT SLUICE_ALLOCATOR STREQUAL "jemalloc")
  list(REMOVE_ITEM sluice_runtime_packages libjemalloc2)
endif()
list(JOIN sluice_runtime_packages ", " CPACK_DEBIAN_PACKAGE_DEPENDS)
# systemd-sysusers and systemd-tmpfiles; postinst falls back to useradd and install -d.
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS systemd)

# Maintainer scripts and conffiles. Everything sluice installs under /etc is a conffile: an
# upgrade keeps the operator's edits (dpkg asks when both sides changed).
foreach(script conffiles postinst prerm postrm)
  configure_file(${PROJECT_SOURCE_DIR}/cmake/debian/${script} ${PROJECT_BINARY_DIR}/debian/${script} COPYONLY)
endforeach()
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  ${PROJECT_BINARY_DIR}/debian/conffiles ${PROJECT_BINARY_DIR}/debian/postinst
  ${PROJECT_BINARY_DIR}/debian/prerm ${PROJECT_BINARY_DIR}/debian/postrm)
# Maintainer scripts 0755 and conffiles 0644, whatever the checkout's modes.
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)

include(CPack)
