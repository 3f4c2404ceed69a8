# sluice_bpf_skeleton(<area> [<source dir>])
# Builds <source dir>/<area>.bpf.c (default: bpf/) into a BPF object, links it with `bpftool gen object`
# (which also shrinks the embedded DWARF), and generates <area>.skel.h holding
# `struct <area>_bpf`. Header dependencies come from clang's depfile, so editing
# a header under maps/ or bpf/include/ rebuilds exactly the objects using it.
# Adds the skeleton to the interface target sluice_bpf_skeletons.

find_program(SLUICE_BPF_CLANG NAMES clang-14 clang REQUIRED)
find_program(SLUICE_BPFTOOL NAMES bpftool PATHS /usr/sbin /sbin REQUIRED)

set(SLUICE_SKEL_DIR ${CMAKE_BINARY_DIR}/skel)
file(MAKE_DIRECTORY ${SLUICE_SKEL_DIR})

if(NOT TARGET sluice_bpf_skeletons)
  add_library(sluice_bpf_skeletons INTERFACE)
  target_include_directories(sluice_bpf_skeletons INTERFACE ${SLUICE_SKEL_DIR})
endif()

set(SLUICE_BPF_CFLAGS
  -target bpf -O2 -g -mcpu=v3 -Wall -Werror
  -I/usr/include/${CMAKE_LIBRARY_ARCHITECTURE}
  -I${PROJECT_SOURCE_DIR}/maps
  -I${PROJECT_SOURCE_DIR}/bpf/include)

function(sluice_bpf_skeleton area)
  set(src_dir ${PROJECT_SOURCE_DIR}/bpf)
  if(ARGC GREATER 1)
    set(src_dir ${ARGV1})
  endif()
  set(src ${src_dir}/${area}.bpf.c)
  set(obj ${CMAKE_CURRENT_BINARY_DIR}/${area}.bpf.o)
  set(linked ${CMAKE_CURRENT_BINARY_DIR}/${area}.o)
  set(skel ${SLUICE_SKEL_DIR}/${area}.skel.h)

  add_custom_command(
    OUTPUT ${obj}
    COMMAND ${SLUICE_BPF_CLANG} ${SLUICE_BPF_CFLAGS} -MD -MF ${obj}.d -c ${src} -o ${obj}
    DEPENDS ${src}
    DEPFILE ${obj}.d
    COMMENT "BPF ${area}.bpf.c"
    VERBATIM)
  add_custom_command(
    OUTPUT ${linked}
    COMMAND ${SLUICE_BPFTOOL} gen object ${linked} ${obj}
    DEPENDS ${obj}
    VERBATIM)
  add_custom_command(
    OUTPUT ${skel}
    COMMAND sh -c "${SLUICE_BPFTOOL} gen skeleton ${linked} name ${area}_bpf > ${skel}.tmp && mv ${skel}.tmp ${skel}"
    DEPENDS ${linked}
    COMMENT "skeleton ${area}.skel.h"
    VERBATIM)
  add_custom_target(bpf_${area} DEPENDS ${skel})
  add_dependencies(sluice_bpf_skeletons bpf_${area})
endfunction()
