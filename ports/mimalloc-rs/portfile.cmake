# vcpkg port of mimalloc-rs, an overlay port kept in the project's repository and built
# from the repository it sits in:
#
#   vcpkg install "mimalloc-rs[override]" --overlay-ports=<repository>/ports
#
# The Rust core is built by the project's CMake build, which runs cargo: a Rust toolchain
# (1.80 or later) must be installed on the build machine (vcpkg does not provide one).
get_filename_component(SOURCE_PATH "${CMAKE_CURRENT_LIST_DIR}/../.." ABSOLUTE)
include("${CMAKE_CURRENT_LIST_DIR}/port-options.cmake")

mimalloc_rs_port_options(MI_PORT_OPTIONS "${VCPKG_LIBRARY_LINKAGE}" ${FEATURES})

vcpkg_cmake_configure(
    SOURCE_PATH "${SOURCE_PATH}"
    OPTIONS
        ${MI_PORT_OPTIONS}
)
vcpkg_cmake_install()

# find_package(mimalloc CONFIG): the package keeps C mimalloc's name
vcpkg_cmake_config_fixup(PACKAGE_NAME mimalloc CONFIG_PATH lib/cmake/mimalloc)
mimalloc_rs_fix_config("${CURRENT_PACKAGES_DIR}/share/mimalloc/mimalloc-config.cmake")
vcpkg_fixup_pkgconfig()

file(REMOVE_RECURSE "${CURRENT_PACKAGES_DIR}/debug/include" "${CURRENT_PACKAGES_DIR}/debug/share")
file(INSTALL "${CMAKE_CURRENT_LIST_DIR}/usage" DESTINATION "${CURRENT_PACKAGES_DIR}/share/${PORT}")
vcpkg_install_copyright(FILE_LIST "${SOURCE_PATH}/debian/copyright")
