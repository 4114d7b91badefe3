from antt.cli import main

main()
