"""System assembly: arch spec -> components + mapping; trace -> tasks -> schedule -> result."""
