# The Debian package: configure with the prefix the package installs to,
#   cmake -S . -B build-deb -DCMAKE_INSTALL_PREFIX=/usr -DBUILD_TESTING=OFF
#   cmake --build build-deb -j2 && (cd build-deb && cpack -G DEB)
# gives build-deb/lyncaudit_<version>_<arch>.deb. Its dependencies come from
# the shared libraries the binary links (dpkg-shlibdeps), plus adduser for
# the postinst.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME lyncaudit)
set(CPACK_PACKAGE_VENDOR "The lyncaudit authors")
set(LYNCAUDIT_DEB_MAINTAINER "The lyncaudit authors <lyncaudit@example.invalid>" CACHE STRING
    "The package's Maintainer field (name <address>): whoever builds and ships it")
set(CPACK_PACKAGE_CONTACT "${LYNCAUDIT_DEB_MAINTAINER}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "audit Lync Server 2013 / Skype for Business traffic against Microsoft's port tables")
set(CPACK_PACKAGE_DESCRIPTION
    "lyncaudit reads captures or watches a SPAN port, classifies every flow with
nDPI and its own Lync dissectors, places addresses in Lync Server roles from a
topology file, checks each flow against rules that encode Microsoft's port and
protocol tables row by row, and stores flows, verdicts and violations in a
SQLite database. Includes a systemd unit (lyncaudit@IFACE.service) and the
lyncaudit report command (HTML, JSON, Markdown).")
set(CPACK_PACKAGING_INSTALL_PREFIX "${CMAKE_INSTALL_PREFIX}")
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "sqlite3")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    "${PROJECT_BINARY_DIR}/packaging/debian/conffiles"
    "${PROJECT_BINARY_DIR}/packaging/debian/postinst"
    "${PROJECT_BINARY_DIR}/packaging/debian/prerm"
    "${PROJECT_BINARY_DIR}/packaging/debian/postrm")
if(NOT CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  message(STATUS "cpack -G DEB: the package would install under ${CMAKE_INSTALL_PREFIX}; Debian packages use -DCMAKE_INSTALL_PREFIX=/usr")
endif()
include(CPack)
