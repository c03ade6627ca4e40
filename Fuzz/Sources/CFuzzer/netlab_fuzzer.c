#include "netlab_fuzzer.h"

// libFuzzer's entry point for programs that have their own main (LLVM 11 and later).
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*test)(const uint8_t *data, size_t size));

int netlab_fuzz_main(int argc, char **argv, netlab_fuzz_test test) {
    return LLVMFuzzerRunDriver(&argc, &argv, test);
}
