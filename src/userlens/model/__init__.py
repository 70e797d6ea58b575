"""Pure data types shared by every layer. Imports nothing else of Userlens."""
