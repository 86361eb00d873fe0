# Read by CMake after each project() of the llama-cpp-python build
# (scripts/setup.sh passes -DCMAKE_PROJECT_INCLUDE=<this file>).
#
# llama-cpp-python compiles llama.cpp's "common" library (argument parsing,
# chat templates and JSON for llama.cpp's own programs) and installs it, but
# its Python package loads only libllama and libggml. On 2 cores that library
# was ~4 of the ~6 minutes of the build. llama-cpp-python sets
# LLAMA_BUILD_COMMON=ON as a forced cache entry; a normal variable of the same
# name takes precedence over a cache entry (policy CMP0126 keeps it), so this
# one turns the library off for every directory below.
set(LLAMA_BUILD_COMMON OFF)
