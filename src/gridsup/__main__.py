from gridsup.cli import main

main()
