# Refuse to build inside the source tree: build/ and build-asan/ keep it clean.
if(CMAKE_SOURCE_DIR STREQUAL CMAKE_BINARY_DIR)
	message(FATAL_ERROR "In-source builds are not allowed; use 'make build' or cmake -B build")
endif()
