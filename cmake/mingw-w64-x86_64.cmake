# Cross toolchain: build the Windows DLLs (x86_64-pc-windows-gnu) on Linux with mingw-w64.
#
#   cmake -S . -B out/win -DCMAKE_TOOLCHAIN_FILE=cmake/mingw-w64-x86_64.cmake
#   cmake --build out/win && (cd out/win && ctest)
#
# Needs gcc-mingw-w64-x86-64 and g++-mingw-w64-x86-64 (Debian/Ubuntu). The tests run under
# wine when it is installed (wine64: its binary is /usr/lib/wine/wine64, with no wrapper
# on PATH); ctest then needs WINEPREFIX to name a writable directory (bin/test-windows.sh
# sets one up) and is quieter with WINEDEBUG=-all.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)

set(mi_mingw_prefix x86_64-w64-mingw32)
set(CMAKE_C_COMPILER   ${mi_mingw_prefix}-gcc)
set(CMAKE_CXX_COMPILER ${mi_mingw_prefix}-g++)
set(CMAKE_RC_COMPILER  ${mi_mingw_prefix}-windres)
set(CMAKE_AR           ${mi_mingw_prefix}-ar CACHE FILEPATH "ar")
set(CMAKE_RANLIB       ${mi_mingw_prefix}-ranlib CACHE FILEPATH "ranlib")
set(CMAKE_OBJDUMP      ${mi_mingw_prefix}-objdump CACHE FILEPATH "objdump")

# the Rust target the platform's DLLs are built for (read by CMakeLists.txt)
set(MI_RUST_TARGET x86_64-pc-windows-gnu CACHE STRING "Rust target triple")

set(CMAKE_FIND_ROOT_PATH /usr/${mi_mingw_prefix})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)

# run the test programs under wine (if installed)
find_program(MI_WINE_EXECUTABLE NAMES wine64 wine
             PATHS /usr/lib/wine /usr/lib64/wine /opt/wine-stable/bin NO_CMAKE_FIND_ROOT_PATH)
if(MI_WINE_EXECUTABLE)
  set(CMAKE_CROSSCOMPILING_EMULATOR "${MI_WINE_EXECUTABLE}")
endif()
