from mfdan.cli import main

main()
