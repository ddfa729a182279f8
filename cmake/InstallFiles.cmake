# Runs at install time (cmake --install, cpack), included from cmake_install.cmake by the
# install(CODE) rules of cmake/Packaging.cmake. It installs the files whose contents or
# places depend on the prefix: the config (which names the installed schemas), the blocked
# senders, the unit (which names the installed binary and config) and its companions.
# Computed here rather than at configure time because `cmake --install --prefix P` replaces
# the prefix after configuration, and the installed config must point at the schemas that
# this same install put under P.
#
# In: SLUICE_PART (config or systemd), SLUICE_SOURCE_DIR, SLUICE_STAGING_DIR, and the
# directories as configured: SLUICE_BINDIR, SLUICE_DATADIR, SLUICE_SYSCONFDIR (relative to
# the prefix, or absolute), SLUICE_SYSTEMD_UNIT_DIR ("" for the default),
# SLUICE_SYSTEM_UNIT_DIR (systemd's own, from pkg-config); and cmake_install.cmake's
# CMAKE_INSTALL_PREFIX, which is the install-time prefix.

set(prefix "${CMAKE_INSTALL_PREFIX}")
if(NOT prefix STREQUAL "/")
  string(REGEX REPLACE "/+$" "" prefix "${prefix}")
endif()

function(sluice_under_prefix out dir)
  if(IS_ABSOLUTE "${dir}")
    set(${out} "${dir}" PARENT_SCOPE)
  elseif(prefix STREQUAL "/")
    set(${out} "/${dir}" PARENT_SCOPE)
  else()
    set(${out} "${prefix}/${dir}" PARENT_SCOPE)
  endif()
endfunction()

sluice_under_prefix(bindir "${SLUICE_BINDIR}")
sluice_under_prefix(datadir "${SLUICE_DATADIR}")
# GNUInstallDirs' rule for sysconfdir, applied to the install-time prefix: /usr (and /)
# keep their configuration in /etc, /opt/<x> in /etc/opt/<x>, any other prefix in <prefix>/etc.
if(IS_ABSOLUTE "${SLUICE_SYSCONFDIR}")
  set(sysconfdir "${SLUICE_SYSCONFDIR}")
elseif(prefix STREQUAL "/usr" OR prefix STREQUAL "/")
  set(sysconfdir "/${SLUICE_SYSCONFDIR}")
elseif(prefix MATCHES "^/opt/")
  set(sysconfdir "/${SLUICE_SYSCONFDIR}${prefix}")
else()
  set(sysconfdir "${prefix}/${SLUICE_SYSCONFDIR}")
endif()

# A directory of its own for each run: ctest may run two installs of one tree at once.
string(RANDOM LENGTH 12 run)
set(staging "${SLUICE_STAGING_DIR}/${run}")
file(MAKE_DIRECTORY "${staging}")

# Replaces the value of the one line `<key>: ...` in `text`, keeping its indentation; a key
# that is missing or repeated stops the install, since the installed config would then
# still name a path relative to the repository.
function(sluice_set_key text_var key value)
  string(REGEX MATCHALL "\n *${key}:[^\n]*" lines "${${text_var}}")
  list(LENGTH lines count)
  if(NOT count EQUAL 1)
    message(FATAL_ERROR "config/sluice.yaml: expected one `${key}:` line, found ${count}")
  endif()
  string(REGEX REPLACE "\n( *)${key}:[^\n]*" "\n\\1${key}: \"${value}\"" replaced "${${text_var}}")
  set(${text_var} "${replaced}" PARENT_SCOPE)
endfunction()

if(SLUICE_PART STREQUAL "config")
  # config/sluice.yaml names its files relative to the repository; the installed copy names
  # them by absolute paths, so it loads whatever the working directory.
  file(READ "${SLUICE_SOURCE_DIR}/config/sluice.yaml" yaml)
  sluice_set_key(yaml schemas_dir "${datadir}/sluice/schemas")
  sluice_set_key(yaml blocked_senders_file "${sysconfdir}/sluice/blocked_senders.txt")
  file(WRITE "${staging}/sluice.yaml"
    "# Installed as ${sysconfdir}/sluice/sluice.yaml: config/sluice.yaml of the sources, with\n"
    "# schemas_dir and blocked_senders_file set to where the package installed them.\n"
    "# The dedup database lives in /var/lib/sluice ($STATE_DIRECTORY under systemd).\n"
    "#\n"
    "${yaml}")
  file(INSTALL "${staging}/sluice.yaml" "${SLUICE_SOURCE_DIR}/config/blocked_senders.txt"
    DESTINATION "${sysconfdir}/sluice"
    PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
elseif(SLUICE_PART STREQUAL "systemd")
  if(SLUICE_SYSTEMD_UNIT_DIR)
    sluice_under_prefix(unitdir "${SLUICE_SYSTEMD_UNIT_DIR}")
  elseif(prefix STREQUAL "/usr")
    # Debian 12 ships units in /lib/systemd/system (systemd.pc's systemdsystemunitdir).
    set(unitdir "${SLUICE_SYSTEM_UNIT_DIR}")
  else()
    # Never write into the system's unit directory for a private prefix.
    set(unitdir "${prefix}/lib/systemd/system")
  endif()
  file(READ "${SLUICE_SOURCE_DIR}/systemd/sluice.service" unit)
  string(REPLACE "/usr/bin/sluice" "${bindir}/sluice" unit "${unit}")
  string(REPLACE "/etc/default/sluice" "${sysconfdir}/default/sluice" unit "${unit}")
  string(REPLACE "/etc/sluice" "${sysconfdir}/sluice" unit "${unit}")
  file(WRITE "${staging}/sluice.service" "${unit}")
  file(INSTALL "${staging}/sluice.service" DESTINATION "${unitdir}"
    PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
  # Secrets (passwords, tokens) go here: readable by root alone, as systemd reads it.
  file(INSTALL "${SLUICE_SOURCE_DIR}/systemd/sluice.default" DESTINATION "${sysconfdir}/default"
    RENAME sluice PERMISSIONS OWNER_READ OWNER_WRITE)
  sluice_under_prefix(sysusersdir "lib/sysusers.d")
  sluice_under_prefix(tmpfilesdir "lib/tmpfiles.d")
  file(INSTALL "${SLUICE_SOURCE_DIR}/systemd/sluice.sysusers" DESTINATION "${sysusersdir}"
    RENAME sluice.conf PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
  file(INSTALL "${SLUICE_SOURCE_DIR}/systemd/sluice.tmpfiles" DESTINATION "${tmpfilesdir}"
    RENAME sluice.conf PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
else()
  message(FATAL_ERROR "cmake/InstallFiles.cmake: unknown SLUICE_PART '${SLUICE_PART}'")
endif()

file(REMOVE_RECURSE "${staging}")
