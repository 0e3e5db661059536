from kwq8.cli import main

main()
