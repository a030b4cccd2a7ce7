from mfdan.model.network import main

main()
