# Library dependencies, linked statically by default.
#
# A shared library costs resident memory at start-up for its relocations and
# symbol tables whether or not its code runs: linked dynamically, libcrypto
# and libprotobuf alone kept about 1.7 MB of an idle sluiced resident.
# Linked from their archives (with --gc-sections), only what is used is
# loaded. libstdc++ and libc stay shared: spdlog and fmt are shared libraries
# built against them, and there must be one C++ runtime in the process.
#
# -DSLUICE_STATIC_DEPS=OFF links the shared libraries instead.
option(SLUICE_STATIC_DEPS "Link libbpf, libelf, zlib, OpenSSL, protobuf, RE2 and libyaml statically" ON)

find_package(PkgConfig REQUIRED)
if(SLUICE_STATIC_DEPS)
  set(OPENSSL_USE_STATIC_LIBS TRUE)
  set(Protobuf_USE_STATIC_LIBS ON)
  # sluice_static_target(<target> <lib>...): an imported target of lib<lib>.a
  # files, in link order.
  function(sluice_static_target target)
    set(paths)
    foreach(lib IN LISTS ARGN)
      find_library(SLUICE_STATIC_${lib} NAMES lib${lib}.a REQUIRED)
      list(APPEND paths ${SLUICE_STATIC_${lib}})
    endforeach()
    add_library(${target} INTERFACE IMPORTED GLOBAL)
    set_target_properties(${target} PROPERTIES INTERFACE_LINK_LIBRARIES "${paths}")
  endfunction()
  sluice_static_target(sluice::libbpf bpf elf z)
  sluice_static_target(sluice::re2 re2)
  sluice_static_target(sluice::yaml yaml)
  add_link_options(-Wl,--gc-sections)
else()
  pkg_check_modules(LIBBPF REQUIRED IMPORTED_TARGET GLOBAL libbpf)
  pkg_check_modules(RE2 REQUIRED IMPORTED_TARGET GLOBAL re2)
  pkg_check_modules(LIBYAML REQUIRED IMPORTED_TARGET GLOBAL yaml-0.1)
  add_library(sluice::libbpf ALIAS PkgConfig::LIBBPF)
  add_library(sluice::re2 ALIAS PkgConfig::RE2)
  add_library(sluice::yaml ALIAS PkgConfig::LIBYAML)
endif()
