# chat_sanitize(target): ASan + UBSan when CHAT_SANITIZE is on. UBSan findings
# abort, so a test that trips one fails instead of printing and passing.
function(chat_sanitize target)
	if(CHAT_SANITIZE)
		set(flags -fsanitize=address,undefined -fno-sanitize-recover=all
			-fno-omit-frame-pointer)
		target_compile_options(${target} PRIVATE ${flags})
		target_link_options(${target} PRIVATE ${flags})
	endif()
endfunction()
