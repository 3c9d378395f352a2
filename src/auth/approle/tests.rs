//! Unit tests of the approle method, driven through its path table.
