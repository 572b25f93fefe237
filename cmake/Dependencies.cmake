# Every dependency is a Debian bookworm package found through pkg-config. A missing one stops
# configure with the package to install, so a fresh machine needs only scripts/bootstrap.
find_package(PkgConfig)
if(NOT PKG_CONFIG_FOUND)
  message(FATAL_ERROR "pkg-config not found: apt-get install pkg-config (or run scripts/bootstrap)")
endif()

# sb_require(<prefix> <pkg-config module> <debian package>) defines PkgConfig::<prefix>.
function(sb_require prefix module debpkg)
  pkg_check_modules(${prefix} QUIET IMPORTED_TARGET GLOBAL ${module})
  if(NOT ${prefix}_FOUND)
    message(FATAL_ERROR
      "Dependency '${module}' not found. Install the Debian package: apt-get install ${debpkg}\n"
      "(scripts/bootstrap installs everything skybroker needs.)")
  endif()
  message(STATUS "Found ${module} ${${prefix}_VERSION}")
endfunction()

sb_require(MSGPACK  msgpack       libmsgpack-dev)
sb_require(SYSTEMD  libsystemd    libsystemd-dev)
sb_require(CURL     libcurl       libcurl4-openssl-dev)
sb_require(OPENSSL  openssl       libssl-dev)
sb_require(JANSSON  jansson       libjansson-dev)
sb_require(JWT      libjwt        libjwt-dev)
sb_require(INIH     inih          libinih-dev)
if(SKYBROKER_BUILD_TESTS)
  sb_require(CMOCKA cmocka        libcmocka-dev)
endif()
if(SKYBROKER_BUILD_EMULATOR)
  sb_require(MHD    libmicrohttpd libmicrohttpd-dev)
endif()
