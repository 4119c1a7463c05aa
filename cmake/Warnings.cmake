# chat_warnings(target): the project's warning set, -Werror when CHAT_WERROR is on.
function(chat_warnings target)
	target_compile_options(${target} PRIVATE
		-Wall -Wextra -Wshadow -Wformat=2 -Wstrict-prototypes
		-Wno-unused-parameter)
	if(CHAT_WERROR)
		target_compile_options(${target} PRIVATE -Werror)
	endif()
endfunction()
