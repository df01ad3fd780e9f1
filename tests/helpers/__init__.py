"""What tests share besides conftest's fixtures: fakes, recorders' helpers,
fixture factories. Test modules import from here, never from each other."""
