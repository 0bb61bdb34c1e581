# Build helpers: warning flags, sanitizers, and kt_add_test() (STYLE.md 3.9, 3.12).

add_library(kt_warnings INTERFACE)
target_compile_options(kt_warnings INTERFACE
    -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes
    -Wold-style-definition -Wpointer-arith -Wcast-qual -Wwrite-strings -Wvla
    -Wformat=2 -Wundef -Wimplicit-fallthrough)
if(KT_WERROR)
    target_compile_options(kt_warnings INTERFACE -Werror)
endif()
# POSIX APIs (clock_gettime, fsync, mkdtemp...) under -std=c11.
add_compile_definitions(_POSIX_C_SOURCE=200809L _DEFAULT_SOURCE)

if(KT_SANITIZE)
    set(_kt_san -fsanitize=${KT_SANITIZE} -fno-omit-frame-pointer
                -fno-sanitize-recover=all)
    add_compile_options(${_kt_san})
    add_link_options(${_kt_san})
endif()

# kt_add_test(name src...): one Criterion binary per module, one ctest entry.
# A sanitizer report fails the test even when Criterion's worker exits 0.
function(kt_add_test name)
    add_executable(${name} ${ARGN})
    target_link_libraries(${name} PRIVATE kt_warnings PkgConfig::CRITERION
        ${KT_TEST_LIBS})
    add_test(NAME ${name} COMMAND ${name} --verbose=0 -j2)
    set_tests_properties(${name} PROPERTIES TIMEOUT 300
        FAIL_REGULAR_EXPRESSION "LeakSanitizer|AddressSanitizer|runtime error:"
        ENVIRONMENT "LSAN_OPTIONS=suppressions=${CMAKE_SOURCE_DIR}/tools/lsan.supp:print_suppressions=0")
endfunction()

# kt_glob_library(name dir...): a static library from every .c in the given
# folders, so adding a module is adding a file. Does nothing while empty.
function(kt_glob_library name)
    set(srcs)
    foreach(d ${ARGN})
        file(GLOB s CONFIGURE_DEPENDS ${d}/*.c)
        list(APPEND srcs ${s})
    endforeach()
    if(srcs)
        add_library(${name} STATIC ${srcs})
        target_link_libraries(${name} PRIVATE kt_warnings)
        set_target_properties(${name} PROPERTIES POSITION_INDEPENDENT_CODE ON)
        set_property(GLOBAL APPEND PROPERTY KT_LIBS ${name})
    endif()
endfunction()

# kt_add_subdirs(): add_subdirectory() for every child folder with a
# CMakeLists.txt, so a new actor or tool folder needs no edit here.
function(kt_add_subdirs)
    file(GLOB children RELATIVE ${CMAKE_CURRENT_SOURCE_DIR}
         CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*/CMakeLists.txt)
    list(SORT children)
    foreach(c ${children})
        get_filename_component(d ${c} DIRECTORY)
        add_subdirectory(${d})
    endforeach()
endfunction()
