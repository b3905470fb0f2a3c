from commonroom.cli import main

main()
