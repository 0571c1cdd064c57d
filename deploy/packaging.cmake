# Installation and packages (included by the top CMakeLists.txt when
# THRUM_INSTALL is on).
#
#   cmake --install build/release --prefix /opt/thrum          # component dev, and the services
#   cd build/release && cpack                                  # thrum-dev_*.deb, thrum-tile-server_*.deb
#
# Component "dev": headers under include/thrum/, the static libraries, the
# CMake package (find_package(thrum): targets thrum::thrum and finer ones,
# thrum_add_thrift_library) and thrum.pc. Component "tile-server": the tile
# service's binaries, its style and the data script.
include(CMakePackageConfigHelpers)

set(THRUM_CMAKE_DIR "${CMAKE_INSTALL_LIBDIR}/cmake/thrum")

install(DIRECTORY "${PROJECT_SOURCE_DIR}/framework/" DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}/thrum"
        COMPONENT dev FILES_MATCHING PATTERN "*.h")
install(TARGETS ${THRUM_LIBRARIES} EXPORT thrumTargets
        ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}" COMPONENT dev)
install(EXPORT thrumTargets NAMESPACE thrum:: DESTINATION "${THRUM_CMAKE_DIR}" COMPONENT dev)
configure_package_config_file("${CMAKE_CURRENT_LIST_DIR}/thrumConfig.cmake.in"
  "${PROJECT_BINARY_DIR}/thrumConfig.cmake" INSTALL_DESTINATION "${THRUM_CMAKE_DIR}")
# 0.x makes no promise between minor versions: find_package(thrum 0.1)
# accepts 0.1.*, not 0.2.
write_basic_package_version_file("${PROJECT_BINARY_DIR}/thrumConfigVersion.cmake"
  COMPATIBILITY SameMinorVersion)
install(FILES "${PROJECT_BINARY_DIR}/thrumConfig.cmake" "${PROJECT_BINARY_DIR}/thrumConfigVersion.cmake"
              "${PROJECT_SOURCE_DIR}/thrift/thrum_thrift.cmake"
        DESTINATION "${THRUM_CMAKE_DIR}" COMPONENT dev)

# pkg-config: the libraries in link order, the same usage requirements.
set(THRUM_PC_LIBS "")
foreach(lib thrum_client thrum_server thrum_dispatch thrum_transport thrum_endpoint thrum_io
            thrum_config thrum_metrics)
  string(APPEND THRUM_PC_LIBS " -l${lib}")
endforeach()
# Relative to the .pc file, so the same file serves any --prefix and the .deb.
file(RELATIVE_PATH THRUM_PC_PREFIX "/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/")
string(REGEX REPLACE "/$" "" THRUM_PC_PREFIX "${THRUM_PC_PREFIX}")
configure_file("${CMAKE_CURRENT_LIST_DIR}/thrum.pc.in" "${PROJECT_BINARY_DIR}/thrum.pc" @ONLY)
install(FILES "${PROJECT_BINARY_DIR}/thrum.pc" DESTINATION "${CMAKE_INSTALL_LIBDIR}/pkgconfig"
        COMPONENT dev)

if(THRUM_BUILD_SERVICES)
  install(TARGETS thrum-tile-server thrum-tile-render thrum-tile
          RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}" COMPONENT tile-server)
  install(FILES "${PROJECT_SOURCE_DIR}/services/tile/style/world.xml"
          DESTINATION "${CMAKE_INSTALL_DATADIR}/thrum/style" COMPONENT tile-server)
  install(PROGRAMS "${PROJECT_SOURCE_DIR}/deploy/prepare-data.sh"
          DESTINATION "${CMAKE_INSTALL_DATADIR}/thrum" COMPONENT tile-server)
endif()

# Debian packages: thrum-dev and thrum-tile-server (`cpack` in the build
# directory). Each carries the copyright file and the compressed changelog
# Debian policy asks for; the dependencies are declared (the tile server's
# shared libraries by dpkg-shlibdeps), so `apt-get install ./thrum-*.deb`
# pulls in what is missing.
set(changelog "${CMAKE_CURRENT_LIST_DIR}/debian/changelog")
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${changelog}")
execute_process(COMMAND gzip -9n -c "${changelog}" OUTPUT_FILE "${PROJECT_BINARY_DIR}/changelog.gz"
                COMMAND_ERROR_IS_FATAL ANY)
foreach(component dev tile-server)
  install(FILES "${CMAKE_CURRENT_LIST_DIR}/debian/copyright" "${PROJECT_BINARY_DIR}/changelog.gz"
          DESTINATION "${CMAKE_INSTALL_DATADIR}/doc/thrum-${component}" COMPONENT ${component})
endforeach()

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME thrum)
set(CPACK_PACKAGE_VENDOR "the thrum developers")
set(CPACK_PACKAGE_CONTACT "thrum developers <thrum@thrum.dev>")
# Each package's description below starts with its own synopsis line; an
# empty summary keeps CPack from putting the project's in front of it.
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "")
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL dev)
if(THRUM_BUILD_SERVICES)
  list(APPEND CPACK_COMPONENTS_ALL tile-server)
endif()
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)

set(CPACK_DEBIAN_DEV_PACKAGE_NAME thrum-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS
    "libthrift-dev (>= 0.17), thrift-compiler (>= 0.17), libboost1.74-dev | libboost-dev (>= 1.74), \
libssl-dev (>= 3), libsasl2-dev (>= 2.1.28), libspdlog-dev, libcli11-dev, libtomlplusplus-dev, \
pkg-config")
set(CPACK_DEBIAN_DEV_DESCRIPTION "Thrift RPC service framework (development files)
thrum runs ordinary blocking Apache Thrift handlers behind an asynchronous
Boost.Asio front end: TLS, SASL, admission control and a worker pool.
This package holds the headers, the static libraries, the CMake package
(find_package(thrum)) and the pkg-config file.")

set(CPACK_DEBIAN_TILE-SERVER_PACKAGE_NAME thrum-tile-server)
set(CPACK_DEBIAN_TILE-SERVER_PACKAGE_SECTION net)
set(CPACK_DEBIAN_TILE-SERVER_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_TILE-SERVER_PACKAGE_DEPENDS "libsasl2-modules, fonts-dejavu-core")
# deploy/prepare-data.sh converts the world data with them.
set(CPACK_DEBIAN_TILE-SERVER_PACKAGE_RECOMMENDS "gdal-bin, mapnik-utils")
set(CPACK_DEBIAN_TILE-SERVER_DESCRIPTION "Map tile server on thrum and Mapnik
Renders map tiles with Mapnik in render processes behind a priority queue
dispatcher (metatiles, coalescing, a crash-safe cache), served over Apache
Thrift by thrum.")
include(CPack)
