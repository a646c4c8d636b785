//! A faithful local emulator of the &frankly organization API.
