# mimalloc-pc-relocate.cmake -- run at install time (install(CODE)) when MI_PC_RELOCATABLE
# is on: make the pkg-config file's prefix relative to the file's own directory, so that
# an unpacked archive (the .tar.gz package) works wherever it is put.
#   MI_PC_FILE       the generated mimalloc.pc
#   MI_PC_TO_PREFIX  relative path from <prefix>/<libdir>/pkgconfig to <prefix> (../..)
file(READ "${MI_PC_FILE}" _mi_pc)
string(REGEX REPLACE "^prefix=[^\n]*" "prefix=\${pcfiledir}/${MI_PC_TO_PREFIX}" _mi_pc "${_mi_pc}")
file(WRITE "${MI_PC_FILE}" "${_mi_pc}")
