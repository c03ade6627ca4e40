import CFuzzer
#if canImport(Glibc)
import Glibc
#endif

exit(netlab_fuzz_main(CommandLine.argc, CommandLine.unsafeArgv, { fuzzRoundTrip($0, $1) }))
