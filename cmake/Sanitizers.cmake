# chat_sanitize(target): ASan + UBSan when CHAT_SANITIZE or CHAT_FUZZ is on.
# UBSan findings abort, so a test that trips one fails instead of printing
# and passing.
# CHAT_FUZZ adds libFuzzer's coverage hooks, so that the harnesses in
# test/fuzz (which link libFuzzer's main) see the paths taken in chat_core.
function(chat_sanitize target)
	if(CHAT_SANITIZE OR CHAT_FUZZ)
		set(flags -fsanitize=address,undefined -fno-sanitize-recover=all
			-fno-omit-frame-pointer)
		if(CHAT_FUZZ)
			list(APPEND flags -fsanitize=fuzzer-no-link)
		endif()
		target_compile_options(${target} PRIVATE ${flags})
		target_link_options(${target} PRIVATE ${flags})
	endif()
endfunction()
