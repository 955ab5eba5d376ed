# test_package of the Conan recipe (conanfile.py one directory up): builds a C and a C++
# program against the package with find_package(mimalloc) and runs them.
import os

from conan import ConanFile
from conan.tools.build import can_run
from conan.tools.cmake import CMake, CMakeToolchain, cmake_layout


class TestPackageConan(ConanFile):
    settings = "os", "arch", "compiler", "build_type"
    generators = "CMakeDeps", "VirtualRunEnv"
    test_type = "explicit"

    def requirements(self):
        self.requires(self.tested_reference_str)

    def layout(self):
        cmake_layout(self)

    def generate(self):
        opts = self.dependencies[self.tested_reference_str.split("/")[0]].options
        tc = CMakeToolchain(self)
        tc.cache_variables["MI_TEST_SHARED"] = bool(opts.shared)
        tc.cache_variables["MI_TEST_OVERRIDE"] = bool(opts.override)
        tc.generate()

    def build(self):
        cmake = CMake(self)
        cmake.configure()
        cmake.build()

    def test(self):
        if can_run(self):
            for exe in ("test_package", "test_package_cxx"):
                self.run(os.path.join(self.cpp.build.bindir, exe), env="conanrun")
