# add_chat_test(NAME SOURCES files... LABELS label [TIMEOUT s])
# One cmocka program per module or feature, linked with chat_core and the
# test support library, registered with ctest.
function(add_chat_test name)
	cmake_parse_arguments(T "" "TIMEOUT" "SOURCES;LABELS" ${ARGN})
	if(NOT T_TIMEOUT)
		set(T_TIMEOUT 60)
	endif()
	add_executable(${name} ${T_SOURCES})
	target_link_libraries(${name} PRIVATE chat_test_support chat_core PkgConfig::CMOCKA)
	chat_warnings(${name})
	chat_sanitize(${name})
	add_test(NAME ${name} COMMAND ${name})
	set_tests_properties(${name} PROPERTIES
		LABELS "${T_LABELS}" TIMEOUT ${T_TIMEOUT}
		ENVIRONMENT "CHATD_BIN=$<TARGET_FILE:chatd>;CHAT_WWW=${PROJECT_SOURCE_DIR}/www;ASAN_OPTIONS=detect_leaks=1:abort_on_error=0;UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1")
endfunction()
