# thrum_add_thrift_library(<target> <file.thrift>... [OPTIONS <option>...])
#
# Generates C++ from each IDL file with the Thrift compiler at build time
# (nothing generated is committed) and compiles it into the static library
# <target>, whose users include the generated headers by their plain names
# ("Echo.h", "echo_types.h") and link Thrift through it. OPTIONS are added
# to the C++ generator's (cpp:no_skeleton,OPTION,...), e.g. templates or
# moveable_types. An IDL that includes another lists both, in one target or
# in two linked ones.
#
# Which files the compiler writes depends on what an IDL declares (one pair
# per service, constants, types), so it is asked at configure time, in a
# scratch directory; changing an IDL runs the configuration again.
#
# Installed with thrum's CMake package; find_package(thrum) defines it.
function(thrum_add_thrift_library target)
  cmake_parse_arguments(ARG "" "" "OPTIONS" ${ARGN})
  set(idls ${ARG_UNPARSED_ARGUMENTS})
  if(NOT idls)
    message(FATAL_ERROR "thrum_add_thrift_library(${target}): name at least one .thrift file")
  endif()
  if(NOT THRUM_THRIFT_COMPILER)
    message(FATAL_ERROR "thrum_add_thrift_library(${target}): no Thrift compiler found "
                        "(Debian: apt-get install thrift-compiler)")
  endif()
  string(JOIN "," generator cpp:no_skeleton ${ARG_OPTIONS})
  set(out "${CMAKE_CURRENT_BINARY_DIR}/${target}.gen")
  set(probe "${CMAKE_CURRENT_BINARY_DIR}/${target}.probe")
  set(headers "")
  set(sources "")
  foreach(file IN LISTS idls)
    get_filename_component(idl "${file}" ABSOLUTE)
    if(NOT EXISTS "${idl}")
      message(FATAL_ERROR "thrum_add_thrift_library(${target}): ${idl} does not exist")
    endif()
    file(REMOVE_RECURSE "${probe}")
    file(MAKE_DIRECTORY "${probe}")
    execute_process(COMMAND "${THRUM_THRIFT_COMPILER}" --gen "${generator}" -out "${probe}" "${idl}"
                    RESULT_VARIABLE rc OUTPUT_VARIABLE output ERROR_VARIABLE output)
    if(NOT rc EQUAL 0)
      message(FATAL_ERROR "thrum_add_thrift_library(${target}): thrift cannot compile ${idl}:\n${output}")
    endif()
    file(GLOB written RELATIVE "${probe}" "${probe}/*")
    file(REMOVE_RECURSE "${probe}")
    set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${idl}")
    set(outputs "")
    foreach(name IN LISTS written)
      list(APPEND outputs "${out}/${name}")
      if(name MATCHES "\\.cpp$")
        list(APPEND sources "${out}/${name}")
      else()
        list(APPEND headers "${out}/${name}")
      endif()
    endforeach()
    get_filename_component(base "${idl}" NAME)
    add_custom_command(
      OUTPUT ${outputs}
      COMMAND "${CMAKE_COMMAND}" -E make_directory "${out}"
      COMMAND "${THRUM_THRIFT_COMPILER}" --gen "${generator}" -out "${out}" "${idl}"
      DEPENDS "${idl}"
      COMMENT "thrift --gen ${generator} ${base}"
      VERBATIM)
  endforeach()
  if(sources)
    add_library(${target} STATIC ${sources} ${headers})
    target_include_directories(${target} PUBLIC "${out}")
    target_link_libraries(${target} PUBLIC thrum::thrift)
    # Generated code is not ours to warn about.
    target_compile_options(${target} PRIVATE -w)
  else()
    add_library(${target} INTERFACE)
    target_include_directories(${target} INTERFACE "${out}")
    target_link_libraries(${target} INTERFACE thrum::thrift)
    add_custom_target(${target}.generate DEPENDS ${headers})
    add_dependencies(${target} ${target}.generate)
  endif()
endfunction()
