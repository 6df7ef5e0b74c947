# Cross-compiling for arm64 (aarch64) Linux with Debian's g++-aarch64-linux-gnu against a sysroot
# of Debian's own arm64 packages (scripts/test-arm64.sh makes and caches one):
#   cmake -S . -B build-arm64 -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-aarch64.cmake \
#         -DMLOPS_ARM64_SYSROOT=/var/cache/mlops-ingest/arm64-sysroot
# The C and C++ runtime's headers and libraries come from the cross toolchain itself
# (libc6-dev-arm64-cross, libstdc++-12-dev-arm64-cross); every other library, its headers, CMake
# package files and pkg-config files from the sysroot, never from the host.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)

# try_compile() projects read this file again without the cache: the environment carries it.
if(NOT MLOPS_ARM64_SYSROOT)
  if(DEFINED ENV{MLOPS_ARM64_SYSROOT})
    set(MLOPS_ARM64_SYSROOT "$ENV{MLOPS_ARM64_SYSROOT}")
  else()
    set(MLOPS_ARM64_SYSROOT /var/cache/mlops-ingest/arm64-sysroot)
  endif()
endif()
set(ENV{MLOPS_ARM64_SYSROOT} "${MLOPS_ARM64_SYSROOT}")
if(NOT IS_DIRECTORY "${MLOPS_ARM64_SYSROOT}/usr/include")
  message(FATAL_ERROR "MLOPS_ARM64_SYSROOT=${MLOPS_ARM64_SYSROOT} is not an arm64 sysroot "
                      "(scripts/test-arm64.sh makes one)")
endif()
set(CMAKE_SYSROOT "${MLOPS_ARM64_SYSROOT}")

# Libraries, headers and packages only inside the sysroot and the cross toolchain's own arm64
# root (the C runtime's: dlfcn.h and libdl for civetweb's package file); programs (pkg-config)
# from the host.
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# pkg-config (librdkafka) reads the sysroot's .pc files alone and prefixes their paths with it.
set(ENV{PKG_CONFIG_LIBDIR}
    "${CMAKE_SYSROOT}/usr/lib/aarch64-linux-gnu/pkgconfig:${CMAKE_SYSROOT}/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_SYSROOT_DIR} "${CMAKE_SYSROOT}")
unset(ENV{PKG_CONFIG_PATH})

# ctest, and gtest_discover_tests listing the tests, run the arm64 executables under qemu-user,
# which takes the sysroot as the root for the dynamic loader and the shared libraries.
find_program(MLOPS_QEMU_AARCH64 qemu-aarch64-static)
if(MLOPS_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR "${MLOPS_QEMU_AARCH64};-L;${CMAKE_SYSROOT}")
endif()
