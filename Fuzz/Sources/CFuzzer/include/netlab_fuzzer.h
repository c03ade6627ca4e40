// libFuzzer's driver, entered from a Swift `main`: SwiftPM gives every executable its own
// entry symbol, so the targets call the driver instead of letting libFuzzer own `main`.
#ifndef NETLAB_FUZZER_H
#define NETLAB_FUZZER_H

#include <stddef.h>
#include <stdint.h>

typedef int (*netlab_fuzz_test)(const uint8_t *data, size_t size);

/// Runs libFuzzer with the process's arguments and `test` as LLVMFuzzerTestOneInput;
/// returns its exit status.
int netlab_fuzz_main(int argc, char **argv, netlab_fuzz_test test);

#endif
