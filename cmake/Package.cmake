# `make package`: a Debian package of rigshift built with CPack (docs/operations.md, "Packages").
#
#   /usr/bin/rigshift                          the one binary (server, agent, CLI)
#   /lib/systemd/system/rigshift-server.service  the controller, as user rigshift
#   /lib/systemd/system/rigshift-agent.service   the node agent, as root (it runs Podman)
#   /etc/rigshift/server.toml, agent.toml      configs (conffiles: an upgrade keeps local edits)
#   /usr/share/doc/rigshift/                   README, the docs
# The postinst makes the system user rigshift and /var/lib/rigshift; see packaging/debian/.
# Runtime libraries are found by dpkg-shlibdeps from the binary.
include(GNUInstallDirs)
install(TARGETS rigshift RUNTIME DESTINATION bin)
install(FILES packaging/rigshift-server.service packaging/rigshift-agent.service DESTINATION lib/systemd/system)
install(FILES packaging/server.toml.example DESTINATION /etc/rigshift RENAME server.toml)
install(FILES packaging/agent.toml.example DESTINATION /etc/rigshift RENAME agent.toml)
file(GLOB RIGSHIFT_DOCS ${CMAKE_SOURCE_DIR}/docs/*.md)
install(FILES README.md LICENSE ${RIGSHIFT_DOCS} DESTINATION share/doc/rigshift)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME rigshift)
set(CPACK_PACKAGE_VENDOR "rigshift")
set(CPACK_PACKAGE_CONTACT "rigshift developers <rigshift@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "GPU mining farm controller: rent GPUs to AI tenants, mine when it pays more")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "podman, runc")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  ${CMAKE_SOURCE_DIR}/packaging/debian/postinst
  ${CMAKE_SOURCE_DIR}/packaging/debian/postrm
  ${CMAKE_SOURCE_DIR}/packaging/debian/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_STRIP_FILES ON)
include(CPack)
