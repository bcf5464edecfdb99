await L7mp.mainWithExitCodes()
